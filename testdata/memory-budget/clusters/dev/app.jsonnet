local mini = import 'mini.libsonnet';

mini.List() {
  items_+: {
    ns: mini.Namespace('app'),
    settings: mini.ConfigMap('settings', 'app') {
      data+: { cluster: std.extVar('cluster') },
    },
  },
}
