// expect-error: must be an IANA service name
// Container port names are at most 15 characters.
local kube = import 'kube.libsonnet';

kube.Container('exporter') {
  image: 'example/exporter:0.4',
  ports_+: { 'prometheus-metrics': { containerPort: 9100 } },
}
