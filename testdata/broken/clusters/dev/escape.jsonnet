local mini = import 'mini.libsonnet';
local outside = import '../../../basic/lib/mini.libsonnet';

mini.List() { items_+: { cm: outside.ConfigMap('escape', 'app') } }
