local mini = import 'mini.libsonnet';

mini.List() { items_+: { cm: mini.ConfigMap('syntax', 'app') { data+: { a: [1, 2 } } } }
