// expect-error: target_pod has no metadata.labels to select on
// A Service whose pod template has no labels would select nothing (or, unselected, everything).
local kube = import 'kube.libsonnet';

kube.Service('proxy') {
  metadata+: { namespace: 'webcache' },
  target_pod: {
    metadata: {},
    spec: { containers: [{ name: 'squid', ports: [{ name: 'proxy', containerPort: 3128 }] }] },
  },
  port: 80,
}
