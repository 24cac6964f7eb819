// expect-error: roleRef_ is a Role in namespace "jenkins", but the binding is in "apps"
// A RoleBinding can only grant a Role of its own namespace.
local kube = import 'kube.libsonnet';

local role = kube.Role('deployer') {
  metadata+: { namespace: 'jenkins' },
  rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'] }],
};
local sa = kube.ServiceAccount('jenkins') { metadata+: { namespace: 'jenkins' } };

kube.RoleBinding('deployer') {
  metadata+: { namespace: 'apps' },
  roleRef_: role,
  subjects_: [sa],
}
