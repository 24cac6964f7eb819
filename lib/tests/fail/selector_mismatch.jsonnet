// expect-error: does not match spec.template.metadata.labels
// A selector that does not select the Deployment's own pods is refused by the API server.
local kube = import 'kube.libsonnet';

kube.Deployment('web') {
  metadata+: { namespace: 'apps' },
  spec+: {
    selector: { matchLabels: { name: 'website' } },
    template+: {
      spec+: { containers_+: { web: kube.Container('web') { image: 'example/web:1.0' } } },
    },
  },
}
