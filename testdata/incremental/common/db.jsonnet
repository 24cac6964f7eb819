// The database stack.
local app = import 'app.libsonnet';

{
  db: app.configMap('db', { size: '10Gi' }),
}
