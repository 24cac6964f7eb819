// A ConfigMap in the apps namespace, its name prefixed.
local names = import 'names.libsonnet';

{
  configMap(name, data):: {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: names.prefix + name, namespace: 'apps' },
    data: data,
  },
}
