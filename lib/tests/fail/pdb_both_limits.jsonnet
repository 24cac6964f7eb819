// expect-error: set exactly one of spec.minAvailable and spec.maxUnavailable
// Kubernetes refuses a PodDisruptionBudget with both.
local kube = import 'kube.libsonnet';

kube.PodDisruptionBudget('web') {
  metadata+: { namespace: 'apps' },
  target_pod: { metadata: { labels: { name: 'web' } } },
  spec+: { minAvailable: 1, maxUnavailable: 1 },
}
