{
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'single', namespace: 'app' },
  data: { mode: 'debug' },
}
