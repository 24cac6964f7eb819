// expect-error: port: is ambiguous
// port: 80 cannot tell which of two container ports it means (ports_ is ordered by key).
local kube = import 'kube.libsonnet';

local deploy = kube.Deployment('jenkins') {
  metadata+: { namespace: 'jenkins' },
  spec+: {
    template+: {
      spec+: {
        containers_+: {
          jenkins: kube.Container('jenkins') {
            image: 'jenkins/jenkins:2.479.1-lts-jdk17',
            ports_+: { http: { containerPort: 8080 }, agent: { containerPort: 50000 } },
          },
        },
      },
    },
  },
};

kube.Service('jenkins') {
  metadata+: { namespace: 'jenkins' },
  target_pod: deploy.spec.template,
  port: 80,
}
