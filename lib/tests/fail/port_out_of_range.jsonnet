// expect-error: containerPort must be an integer in 1..65535
// A port number typo.
local kube = import 'kube.libsonnet';

kube.Deployment('web') {
  metadata+: { namespace: 'apps' },
  spec+: {
    template+: {
      spec+: {
        containers_+: {
          web: kube.Container('web') {
            image: 'example/web:1.0',
            ports_+: { http: { containerPort: 80800 } },
          },
        },
      },
    },
  },
}
