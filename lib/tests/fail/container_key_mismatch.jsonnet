// expect-error: the key is the name, make them agree
// A containers_ key that disagrees with the container's own name.
local kube = import 'kube.libsonnet';

kube.Deployment('proxy') {
  metadata+: { namespace: 'webcache' },
  spec+: {
    template+: {
      spec+: {
        containers_+: { proxy: kube.Container('squid') { image: 'ubuntu/squid:5.2-22.04_beta' } },
      },
    },
  },
}
