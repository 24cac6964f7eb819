// The same Deployment in two clusters, at different places of their Lists: a finding
// judged once for both must still name each one's own line.
{
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'app', labels: { app: 'web' } },
  spec: {
    replicas: 'three',
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] },
    },
  },
}
