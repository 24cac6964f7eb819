// `loose` names no namespace: the API server creates it in `default`.
{
  items_: {
    loose: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'loose' }, data: { a: 'b' } },
    placed: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'placed', namespace: 'other', labels: { team: 'platform', owner: 'ops' } },
      data: { a: 'b' },
    },
    ns: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other', labels: { team: 'platform' } } },
    reader: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'reader', labels: { team: 'platform', owner: 'ops' } },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }],
    },
  },
}
