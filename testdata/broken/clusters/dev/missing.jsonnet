local mini = import 'mini.libsonnet';

mini.List() { items_+: { cm: mini.ConfigMap('missing', 'app') } }
