// expect-error: metadata.name must be a DNS-1123 label
// Namespace names are labels: at most 63 characters.
local kube = import 'kube.libsonnet';

kube.Namespace('a-namespace-name-that-goes-on-and-on-well-past-the-sixty-three-limit')
