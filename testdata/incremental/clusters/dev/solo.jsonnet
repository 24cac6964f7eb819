// Imports nothing at all.
{
  items_: {
    cm: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'solo', namespace: 'apps' },
      data: { cluster: std.extVar('cluster') },
    },
  },
}
