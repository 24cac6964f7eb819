// nginx-ingress in web: the public entry point of our sites, behind an internet-facing ELB.
local nginxIngress = import '../../common/nginx-ingress.jsonnet';
local cluster = import 'cluster.libsonnet';
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: nginxIngress {
    namespace:: 'ingress',
    internal:: cluster.internal_lb,
    replicas:: 3,

    // Public traffic: room for bursts, and keep two controllers up during drains.
    deploy+: {
      spec+: {
        template+: {
          spec+: {
            containers_+: {
              controller+: {
                resources+: {
                  requests+: { cpu: '500m', memory: '512Mi' },
                  limits+: { cpu: '2', memory: '1Gi' },
                },
              },
            },
          },
        },
      },
    },
    pdb+: { spec+: { maxUnavailable:: null, minAvailable: 2 } },
  },
}
