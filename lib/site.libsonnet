// Our site conventions on top of kube.libsonnet: how services are exposed.
local kube = import 'kube.libsonnet';

{
  // cert-manager's ingress-shim turns this annotation plus spec.tls into a
  // Certificate. The ClusterIssuer is a custom resource, created out of band in each
  // cluster, so that our manifests validate against the built-in schemas.
  issuer:: 'letsencrypt',

  // HTTPS-only Ingress for one host: the article's "create an Ingress rule, get a
  // hostname, a certificate and an HTTP->HTTPS redirect".
  TlsIngress(name, host, service, port):: kube.Ingress(name) {
    metadata+: {
      annotations+: { 'cert-manager.io/cluster-issuer': $.issuer },
    },
    spec+: {
      ingressClassName: 'nginx',
      rules: [kube.IngressRule(host, service, port)],
      tls: [{ hosts: [host], secretName: name + '-tls' }],
    },
  },

  // Merge into a Service to put it behind an AWS ELB. Internal ELBs are only
  // reachable from our VPCs and VPN.
  LoadBalancer(internal):: {
    metadata+: {
      annotations+: if internal then {
        'service.beta.kubernetes.io/aws-load-balancer-internal': 'true',
      } else {},
    },
    spec+: {
      type: 'LoadBalancer',
      // Keeps the client source IP, which source allowlists depend on.
      externalTrafficPolicy: 'Local',
    },
  },

  // Pod annotations our Prometheus discovers scrape targets by.
  PrometheusScrape(port, path='/metrics'):: {
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': std.toString(port),
    'prometheus.io/path': path,
  },

  // Pod Security admission level of a namespace: "restricted" unless a stack really
  // needs more (node agents reading hostPath, say).
  PodSecurity(level):: {
    metadata+: {
      labels+: {
        'pod-security.kubernetes.io/enforce': level,
        'pod-security.kubernetes.io/warn': level,
      },
    },
  },
}
