local mini = import 'mini.libsonnet';
local replicas(n) = assert n > 0 : 'replicas must be positive, got ' + n; n;

mini.List() { items_+: { cm: mini.ConfigMap('assert', 'app') { data+: { n: std.toString(replicas(0)) } } } }
