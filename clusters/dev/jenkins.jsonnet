// Jenkins in dev: where changes to the CI setup itself are tried out.
local jenkins = import '../../common/jenkins.jsonnet';
local cluster = import 'cluster.libsonnet';
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: jenkins {
    namespace:: 'jenkins',
    host:: cluster.host('jenkins'),
    storage:: '20Gi',
    heap:: '1g',

    deploy+: {
      spec+: {
        template+: {
          spec+: {
            containers_+: {
              jenkins+: {
                resources: {
                  requests: { cpu: '250m', memory: '1536Mi' },
                  limits: { cpu: '1', memory: '2Gi' },
                },
              },
            },
          },
        },
      },
    },
  },
}
