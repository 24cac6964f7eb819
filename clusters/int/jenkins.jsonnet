// Jenkins in int: the production CI/CD that builds, tests and rolls out this repository.
local jenkins = import '../../common/jenkins.jsonnet';
local cluster = import 'cluster.libsonnet';
local kube = import 'kube.libsonnet';

kube.List() {
  items_+: jenkins {
    namespace:: 'jenkins',
    host:: cluster.host('jenkins'),
    storage:: '200Gi',
  },
}
