// expect-error: storage must be a quantity string like "10Gi"
// A bare number is bytes, almost never what was meant.
local kube = import 'kube.libsonnet';

kube.PersistentVolumeClaim('data') {
  metadata+: { namespace: 'apps' },
  storage: 10,
}
