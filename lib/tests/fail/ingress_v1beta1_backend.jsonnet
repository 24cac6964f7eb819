// expect-error: every rule path must name a backend service
// The networking.k8s.io/v1beta1 backend form (serviceName/servicePort) is gone in v1.
local kube = import 'kube.libsonnet';

kube.Ingress('web') {
  metadata+: { namespace: 'apps' },
  spec+: {
    rules: [{
      host: 'web.dev.example.com',
      http: { paths: [{ path: '/', pathType: 'Prefix', backend: { serviceName: 'web', servicePort: 80 } }] },
    }],
  },
}
