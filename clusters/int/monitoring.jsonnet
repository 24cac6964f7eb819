// Monitoring in int.
local prometheus = import '../../common/prometheus.jsonnet';
local cluster = import 'cluster.libsonnet';
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: prometheus {
    namespace:: 'monitoring',
    host:: cluster.host('prometheus'),
    alertmanager_host:: cluster.host('alertmanager'),
  },
}
