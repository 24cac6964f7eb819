// Fine to evaluate; the policies take a range of 200 million numbers for it.
local mini = import 'mini.libsonnet';

mini.List() {
  items_+: {
    cm: mini.ConfigMap('ranged', 'app') { metadata+: { labels: { range: 'wide' } } },
  },
}
