// Reads a file outside the repository: refused by the sandbox, on the line below.
local outside = import '../../../basic/lib/mini.libsonnet';
local mini = import 'mini.libsonnet';

mini.List() { items_+: { cm: outside.ConfigMap('escape', 'app') } }
