// Small constructors for the fixtures: full objects, every namespaced one in `app`.
{
  meta(name):: { name: name, namespace: 'app' },

  Deployment(name):: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: $.meta(name),
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [{
            name: 'web',
            image: 'nginx:1.27.3',
            ports: [{ name: 'http', containerPort: 8080 }],
            resources: {
              requests: { cpu: '100m', memory: '64Mi' },
              limits: { cpu: 0.5, memory: '128Mi' },
            },
          }],
        },
      },
    },
  },

  ConfigMap(name):: {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: $.meta(name),
    data: { key: 'value' },
  },
}
