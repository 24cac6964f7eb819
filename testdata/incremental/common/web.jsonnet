// The web stack: its configuration file is read as text.
local app = import 'app.libsonnet';

{
  web: app.configMap('web', {
    conf: importstr 'config/web.conf',
    region: std.extVar('region'),
  }),
}
