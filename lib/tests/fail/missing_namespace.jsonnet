// expect-error: metadata.namespace is not set
// A namespaced object that forgets its namespace fails at expansion, not at apply.
local kube = import 'kube.libsonnet';

kube.Deployment('web') {
  spec+: {
    template+: {
      spec+: { containers_+: { web: kube.Container('web') { image: 'example/web:1.0' } } },
    },
  },
}
