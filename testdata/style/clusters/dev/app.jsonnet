local app = import '../../common/app.libsonnet';
local mini = import 'mini.libsonnet';

mini.List() {
  items_+: {
    settings: app.settings('app'),
  },
}
