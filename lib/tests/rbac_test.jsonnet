// Tests of the RBAC constructors: bindings built from the role and subject objects.
local kube = import 'kube.libsonnet';

local sa = kube.ServiceAccount('ci') { metadata+: { namespace: 'jenkins' } };
local role = kube.Role('ci-agents') {
  metadata+: { namespace: 'jenkins' },
  rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['create', 'delete', 'get'] }],
};
local clusterRole = kube.ClusterRole('ci:reader') {
  rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }],
};

local binding = kube.RoleBinding('ci-agents') {
  metadata+: { namespace: 'jenkins' },
  roleRef_: role,
  subjects_: [sa, { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'sre' }],
};
// A ClusterRole may be granted inside one namespace.
local scoped = kube.RoleBinding('ci-reader') {
  metadata+: { namespace: 'jenkins' },
  roleRef_: clusterRole,
  subjects_: [sa],
};
local clusterBinding = kube.ClusterRoleBinding('ci:reader') {
  roleRef_: clusterRole,
  subjects_: [sa],
};

{
  role_ref: std.assertEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ci-agents' }),
  subjects: std.assertEqual(binding.subjects, [
    { kind: 'ServiceAccount', name: 'ci', namespace: 'jenkins' },
    { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'sre' },
  ]),
  scoped_cluster_role: std.assertEqual(scoped.roleRef.kind, 'ClusterRole'),
  cluster_binding_has_no_namespace: std.assertEqual(std.objectHas(clusterBinding.metadata, 'namespace'), false),
  colon_in_rbac_names: std.assertEqual(clusterBinding.roleRef.name, 'ci:reader'),
  // RBAC names may not be label values, so RBAC objects carry no default label.
  no_default_labels: std.assertEqual(clusterRole.metadata, { name: 'ci:reader' }),
}
