// One stack with an object of every kind the review has a rule for.
local container(name, image) = {
  name: name,
  image: image,
  resources: {
    requests: { cpu: '100m', memory: '64Mi' },
    limits: { cpu: '1', memory: '256Mi' },
  },
  readinessProbe: { httpGet: { path: '/', port: 80 } },
};

function(p) {
  apiVersion: 'v1',
  kind: 'List',
  items_:: {
    ns: {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: p.namespace, labels: p.namespaceLabels },
    },
    settings: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: p.namespace },
      data: { LOG_LEVEL: p.logLevel },
    },
    credentials: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'credentials', namespace: p.namespace },
      data: { password: std.base64(p.secretPassword) },
    },
    web: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: p.namespace },
      spec: {
        replicas: p.replicas,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            hostNetwork: p.hostNetwork,
            containers: [container('web', p.image) {
              securityContext: p.securityContext,
              env: [{ name: 'LOG_LEVEL', value: p.logLevel }],
            }],
          },
        },
      },
    },
    [if p.withWorker then 'worker']: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'worker', namespace: p.namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'worker' } },
        template: {
          metadata: { labels: { app: 'worker' } },
          spec: { containers: [container('worker', 'busybox:1.36')] },
        },
      },
    },
    service: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: p.namespace, annotations: p.serviceAnnotations },
      spec: { type: p.serviceType, selector: { app: 'web' }, ports: [{ port: 80 }] },
    },
    role: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'shop-reader' },
      rules: [{ apiGroups: [''], resources: p.roleResources, verbs: p.roleVerbs }],
    },
    binding: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'shop' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: p.bindingRole },
      subjects: p.bindingSubjects,
    },
    crd: {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'carts.shop.example.com' },
      spec: {
        group: 'shop.example.com',
        names: { kind: 'Cart', plural: 'carts', singular: 'cart', listKind: 'CartList' },
        scope: 'Namespaced',
        versions: [
          {
            name: v,
            served: true,
            storage: v == p.crdVersions[0],
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          }
          for v in p.crdVersions
        ],
      },
    },
  },
  items: std.objectValues(self.items_),
}
