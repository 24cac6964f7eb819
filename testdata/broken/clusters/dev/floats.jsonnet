local mini = import 'mini.libsonnet';

mini.List() { items_+: { cm: mini.ConfigMap('floats', 'app') { ratio: 0.1 } } }
