// expect-error: is a whole ConfigMap object
// volumes_ wants a volume source, not the ConfigMap itself.
local kube = import 'kube.libsonnet';

local config = kube.ConfigMap('web') { metadata+: { namespace: 'apps' }, data: { 'a.conf': '' } };

kube.Deployment('web') {
  metadata+: { namespace: 'apps' },
  spec+: {
    template+: {
      spec+: {
        containers_+: { web: kube.Container('web') { image: 'example/web:1.0' } },
        volumes_+: { config: config },
      },
    },
  },
}
