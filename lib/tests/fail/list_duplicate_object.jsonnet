// expect-error: two items are the same object
// Two keys holding the same object: one would silently overwrite the other at apply.
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: {
    ns: kube.Namespace('apps'),
    namespace: kube.Namespace('apps'),
  },
}
