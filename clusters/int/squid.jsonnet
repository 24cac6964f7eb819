// The web cache ("proxy") in int, shared by CI builds: two replicas, open to every VPC of ours.
local squid = import '../../common/squid.jsonnet';
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: squid {
    namespace:: 'webcache',
    replicas:: 2,
    // dev's and web's build jobs use this cache too.
    allowed_networks:: ['10.0.0.0/8'],
  },
}
