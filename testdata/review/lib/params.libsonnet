// The knobs of the shop stack; tests/all/review.rs changes them one at a time.
{
  image: 'nginx:1.25.3',
  replicas: 2,
  serviceType: 'ClusterIP',
  serviceAnnotations: {},
  roleResources: ['configmaps'],
  roleVerbs: ['get'],
  bindingRole: 'shop-reader',
  bindingSubjects: [{ kind: 'ServiceAccount', name: 'shop', namespace: 'shop' }],
  securityContext: {},
  hostNetwork: false,
  secretPassword: 'base-password-7f3a',
  logLevel: 'info',
  namespaceLabels: { team: 'shop' },
  crdVersions: ['v1'],
  withWorker: true,
  namespace: 'shop',
}
