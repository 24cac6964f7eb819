// The same ConfigMap in every cluster.
{
  items_: {
    settings: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'app' }, data: { a: 'b' } },
  },
}
