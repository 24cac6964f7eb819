{
  apiVersion: 'v1',
  kind: 'List',
  items: [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app' } },
    {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'settings', namespace: 'app' },
          data: { mode: 'debug' },
        },
        import '../../common/web.libsonnet',
      ],
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db', namespace: 'app' },
      stringData: { password: 'hunter2-do-not-show' },
    },
  ],
}
