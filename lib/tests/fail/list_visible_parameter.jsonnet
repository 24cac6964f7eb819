// expect-error: is not a Kubernetes object
// A stack parameter written with ":" instead of "::" would be emitted as an item.
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: {
    namespace: 'apps',
    ns: kube.Namespace('apps'),
  },
}
