local mini = import 'mini.libsonnet';

mini.List() { items_+: { other: mini.ConfigMap('same', 'app') { data+: { b: '1' } } } }
