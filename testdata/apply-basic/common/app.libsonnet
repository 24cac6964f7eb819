// The same application in every cluster; `fault` becomes the test API server's fault
// annotation on the Deployment.
local fault = std.extVar('fault');
{
  items_: {
    ns: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app' } },
    settings: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: 'app' },
      data: { cluster: std.extVar('cluster') },
    },
    creds: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'creds', namespace: 'app' },
      data: { password: std.base64('hunter2') },
    },
    web: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'web',
        namespace: 'app',
        [if fault != '' then 'annotations']: { 'test.policyrun.io/fault': fault },
      },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'registry.example.com/web:1.0' }] },
        },
      },
    },
  },
}
