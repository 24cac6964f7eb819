// expect-error: metadata.annotations["prometheus.io/scrape"] must be a string
// Annotation values are strings: true must be written "true".
local kube = import 'kube.libsonnet';

kube.ServiceAccount('exporter') {
  metadata+: {
    namespace: 'monitoring',
    annotations: { 'prometheus.io/scrape': true },
  },
}
