// expect-error: binds no subjects
// A ClusterRoleBinding whose subjects_ was never filled in grants nothing.
local kube = import 'kube.libsonnet';

kube.ClusterRoleBinding('prometheus') {
  roleRef_: kube.ClusterRole('prometheus'),
}
