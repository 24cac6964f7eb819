// expect-error: needs spec.rules or spec.defaultBackend
// An Ingress that routes nothing.
local kube = import 'kube.libsonnet';

kube.Ingress('web') {
  metadata+: { namespace: 'apps' },
}
