// Logging in web: the busiest cluster gets the biggest Elasticsearch; Kibana is for staff only.
local logging = import '../../common/logging.jsonnet';
local cluster = import 'cluster.libsonnet';
local internalOnly = import 'config/internal-only.libsonnet';
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: logging {
    namespace:: 'logging',
    kibana_host:: cluster.host('kibana'),
    elasticsearch_storage:: '300Gi',
    elasticsearch_heap:: '2g',
    elasticsearch_memory:: '4Gi',

    kibanaIngress+: internalOnly,
  },
}
