// nginx-ingress in dev: a single controller behind an internal ELB.
local nginxIngress = import '../../common/nginx-ingress.jsonnet';
local cluster = import 'cluster.libsonnet';
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: nginxIngress {
    namespace:: 'ingress',
    internal:: cluster.internal_lb,
  },
}
