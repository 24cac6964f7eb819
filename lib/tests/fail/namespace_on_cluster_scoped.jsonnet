// expect-error: is cluster-scoped
// A ClusterRole has no namespace; setting one hides a mistake in the stack.
local kube = import 'kube.libsonnet';

kube.ClusterRole('reader') {
  metadata+: { namespace: 'monitoring' },
  rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }],
}
