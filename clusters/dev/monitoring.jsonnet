// Monitoring in dev, which also tries the next Prometheus major release before int and web do.
local prometheus = import '../../common/prometheus.jsonnet';
local cluster = import 'cluster.libsonnet';
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: prometheus {
    namespace:: 'monitoring',
    host:: cluster.host('prometheus'),
    alertmanager_host:: cluster.host('alertmanager'),
    version:: 'v3.0.1',
    storage:: '10Gi',
    retention:: '3d',
  },
}
