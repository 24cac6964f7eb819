// Logging in dev: a single small Elasticsearch node; losing dev logs is acceptable.
local logging = import '../../common/logging.jsonnet';
local cluster = import 'cluster.libsonnet';
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: logging {
    namespace:: 'logging',
    kibana_host:: cluster.host('kibana'),
    elasticsearch_replicas:: 1,
    elasticsearch_storage:: '10Gi',
    elasticsearch_heap:: '512m',
    elasticsearch_memory:: '1Gi',
  },
}
