// Mixin for Ingresses of staff-only tools in web, whose ingress controller faces the internet.
{
  metadata+: {
    annotations+: {
      // Our VPCs and the VPN; everyone else gets a 403 from nginx.
      'nginx.ingress.kubernetes.io/whitelist-source-range': '10.0.0.0/8',
    },
  },
}
