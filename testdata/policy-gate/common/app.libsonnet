// The same application in every cluster.
local deployment(name, replicas, labels) = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: name, namespace: 'app', labels: labels },
  spec: {
    replicas: replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: name, image: 'registry.example.com/' + name + ':1.0' }] },
    },
  },
};
{
  items_: {
    ns: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app', labels: { team: 'web' } } },
    web: deployment('web', 4, { app: 'web', owner: 'team-web' }),
    worker: deployment('worker', 1, { app: 'worker' }) + {
      metadata+: {
        annotations: {
          'policyrun.io/waivers': std.manifestJsonMinified([{
            rule: 'K8sRequiredLabels/deployments-need-owner',
            reason: 'the owner label arrives with the next release',
            owner: 'team-web',
            expires: '2999-12-31',
          }]),
        },
      },
    },
    settings: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'app' }, data: { a: 'b' } },
    stray: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'stray', namespace: 'missing' }, data: { a: 'b' } },
  },
}
