// expect-error: env var PORT must be a string
// Kubernetes env values are strings; an unquoted number is refused by the API server.
local kube = import 'kube.libsonnet';

kube.Container('web') {
  image: 'example/web:1.0',
  env_+: { PORT: 8080 },
}
