// Objects whose verdict depends on the release: flowcontrol.apiserver.k8s.io/v1beta3 was
// removed in 1.32, pod-level resources are a field since 1.32.
{
  flowSchema: {
    apiVersion: 'flowcontrol.apiserver.k8s.io/v1beta3',
    kind: 'FlowSchema',
    metadata: { name: 'health' },
    spec: {
      priorityLevelConfiguration: { name: 'exempt' },
      matchingPrecedence: 1,
    },
  },
  deployment: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'web' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          resources: { limits: { cpu: '1' } },
          containers: [{ name: 'web', image: 'nginx:1.27' }],
        },
      },
    },
  },
}
