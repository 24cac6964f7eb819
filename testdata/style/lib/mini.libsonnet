// Constructors for the style fixture.
{
  ConfigMap(name, namespace):: {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: name, namespace: namespace },
    data: {},
  },
  List():: {
    apiVersion: 'v1',
    kind: 'List',
    items_:: {},
    items: std.objectValues(self.items_),
  },
}
