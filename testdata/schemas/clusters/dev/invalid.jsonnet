// One broken object per rule; the item key names the rule.
local o = import 'objects.libsonnet';

{
  unknownField: o.ConfigMap('unknown-field') { extra: true },
  wrongType: o.Deployment('wrong-type') { spec+: { replicas: 'two' } },
  missingRequired: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: o.meta('missing-port'),
    spec: { ports: [{ targetPort: 8080 }] },
  },
  intOrString: o.Deployment('int-or-string') {
    spec+: { strategy+: { rollingUpdate+: { maxSurge: true } } },
  },
  quantity: o.Deployment('quantity') {
    spec+: { template+: { spec+: { containers: [super.containers[0] {
      resources+: { limits+: { memory: 'lots' } },
    }] } } },
  },
  backupInvalid: {
    apiVersion: 'example.com/v1',
    kind: 'Backup',
    metadata: o.meta('broken-backup'),
    spec: { port: true, retries: 3 },
  },
  widgetInvalid: {
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'tiny-widget' },
    spec: { size: 0 },
  },
  noSchema: {
    apiVersion: 'example.org/v1',
    kind: 'Gadget',
    metadata: o.meta('gadget'),
  },
  removed: {
    apiVersion: 'extensions/v1beta1',
    kind: 'Deployment',
    metadata: o.meta('removed-api'),
  },
  deprecated: {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: o.meta('deprecated-api'),
  },
  badName: o.ConfigMap('Bad_Name'),
  badLabel: o.ConfigMap('bad-label') { metadata+: { labels: { 'not a key': 'x', tier: '-front' } } },
}
