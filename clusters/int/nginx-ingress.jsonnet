// nginx-ingress in int: two controllers, so a node drain does not take the internal tools offline.
local nginxIngress = import '../../common/nginx-ingress.jsonnet';
local cluster = import 'cluster.libsonnet';
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: nginxIngress {
    namespace:: 'ingress',
    internal:: cluster.internal_lb,
    replicas:: 2,
  },
}
