// Tests of cluster.libsonnet and site.libsonnet; run with --ext-str cluster=dev.
local cluster = import 'cluster.libsonnet';
local kube = import 'kube.libsonnet';
local site = import 'site.libsonnet';

local svc = kube.Service('grafana') + site.LoadBalancer(cluster.internal_lb) {
  metadata+: { namespace: 'monitoring' },
  target_pod: { metadata: { labels: { name: 'grafana' } }, spec: { containers: [] } },
  ports_: { http: kube.ServicePort(80, 3000) },
};
local ingress = site.TlsIngress('grafana', cluster.host('grafana'), svc, 80) {
  metadata+: { namespace: 'monitoring' },
};

{
  name: std.assertEqual(cluster.name, 'dev'),
  domain: std.assertEqual(cluster.domain, 'dev.example.com'),
  host: std.assertEqual(cluster.host('grafana'), 'grafana.dev.example.com'),
  internal_elb: std.assertEqual(svc.metadata.annotations, { 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' }),
  lb_type: std.assertEqual(svc.spec.type, 'LoadBalancer'),
  tls: std.assertEqual(ingress.spec.tls, [{ hosts: ['grafana.dev.example.com'], secretName: 'grafana-tls' }]),
  issuer: std.assertEqual(ingress.metadata.annotations['cert-manager.io/cluster-issuer'], 'letsencrypt'),
  public_elb_has_no_internal_annotation: std.assertEqual(site.LoadBalancer(false).metadata.annotations, {}),
}
