local mini = import 'mini.libsonnet';

mini.List() { items_+: { cm: mini.ConfigMap('stale', 'app') { data+: { replicas: '3' } } } }
