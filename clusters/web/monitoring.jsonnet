// Monitoring in web: longer history, alerts that page someone, UIs for staff only.
local prometheus = import '../../common/prometheus.jsonnet';
local cluster = import 'cluster.libsonnet';
local internalOnly = import 'config/internal-only.libsonnet';
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: prometheus {
    namespace:: 'monitoring',
    host:: cluster.host('prometheus'),
    alertmanager_host:: cluster.host('alertmanager'),
    storage:: '200Gi',
    retention:: '30d',
    alertmanager_config:: importstr 'config/alertmanager.yml',
    alertmanager_secret:: 'alertmanager-receivers',

    ingress+: internalOnly,
    alertmanagerIngress+: internalOnly,
  },
}
