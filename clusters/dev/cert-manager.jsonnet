// cert-manager in dev: certificates for every Ingress of the cluster.
local certManager = import '../../common/cert-manager.jsonnet';
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: certManager {
    namespace:: 'cert-manager',
  },
}
