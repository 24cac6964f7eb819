// expect-error: metadata.name must be a DNS-1123 subdomain
// Upper case and "_" are not allowed in object names.
local kube = import 'kube.libsonnet';

kube.ConfigMap('Web_Config') {
  metadata+: { namespace: 'apps' },
}
