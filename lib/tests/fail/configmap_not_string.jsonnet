// expect-error: ConfigMap "settings": data["workers"] must be a string
// ConfigMap values are strings.
local kube = import 'kube.libsonnet';

kube.ConfigMap('settings') {
  metadata+: { namespace: 'apps' },
  data: { mode: 'production', workers: 4 },
}
