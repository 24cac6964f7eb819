// expect-error: metadata.name must be a DNS-1035 label
// Service names become DNS names and env var prefixes, so they must start with a letter.
local kube = import 'kube.libsonnet';

kube.Service('1proxy') {
  metadata+: { namespace: 'webcache' },
  target_pod: { metadata: { labels: { name: 'proxy' } } },
  ports_: { http: kube.ServicePort(80, 3128) },
}
