// expect-error: Container "web": image is required
// A container without an image.
local kube = import 'kube.libsonnet';

kube.Container('web') {
  ports_+: { http: { containerPort: 8080 } },
}
