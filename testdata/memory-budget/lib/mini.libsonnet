// A tiny stand-in for kube.libsonnet, enough for the fixtures.
{
  ConfigMap(name, namespace):: {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: name, namespace: namespace },
    data: {},
  },
  Namespace(name):: {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: name },
  },
  List():: {
    apiVersion: 'v1',
    kind: 'List',
    items_:: {},
    items: std.objectValues(self.items_),
  },
}
