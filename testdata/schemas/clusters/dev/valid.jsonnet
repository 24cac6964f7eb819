// Objects every rule accepts.
local o = import 'objects.libsonnet';

{
  deployment: o.Deployment('web'),
  service: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: o.meta('web') { labels: { 'app.kubernetes.io/name': 'web' } },
    // targetPort is an int-or-string: a port name here.
    spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] },
  },
  backup: {
    apiVersion: 'example.com/v1',
    kind: 'Backup',
    metadata: o.meta('nightly'),
    spec: { schedule: '0 3 * * *', port: 5432, options: { anything: ['goes', 1] } },
  },
  widget: {
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'big-widget' },
    spec: { size: 3 },
  },
}
