// expect-error: the pod needs at least one container
// A workload whose containers_ was never filled in.
local kube = import 'kube.libsonnet';

kube.DaemonSet('agent') {
  metadata+: { namespace: 'monitoring' },
}
