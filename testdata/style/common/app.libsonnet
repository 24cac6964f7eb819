local mini = import "mini.libsonnet";
local defaults = import "../lib/mini.libsonnet";
{
    # The application's settings.
    settings(namespace):: mini.ConfigMap("settings",namespace) {
      data+: { "greeting": "hello", "it's": 'quoted' },
    },
    unused:: defaults,
}


// end of file
