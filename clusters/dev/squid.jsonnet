// The web cache ("proxy") in dev.
local squid = import '../../common/squid.jsonnet';
local cluster = import 'cluster.libsonnet';
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: squid {
    namespace:: 'webcache',
    allowed_networks:: [cluster.vpc_cidr],
  },
}
