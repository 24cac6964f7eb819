// expect-error: must be pinned to a version tag or digest
// ":latest" (or no tag) makes the committed JSON say nothing about what runs.
local kube = import 'kube.libsonnet';

kube.Container('web') {
  image: 'nginx:latest',
}
