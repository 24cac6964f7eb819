// Logging in int.
local logging = import '../../common/logging.jsonnet';
local cluster = import 'cluster.libsonnet';
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: logging {
    namespace:: 'logging',
    kibana_host:: cluster.host('kibana'),
  },
}
