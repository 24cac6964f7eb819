// A CustomResourceDefinition in the cluster's own tree: Backups exist in dev only.
{
  backups: {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'backups.example.com' },
    spec: {
      group: 'example.com',
      names: { kind: 'Backup', plural: 'backups' },
      scope: 'Namespaced',
      versions: [{
        name: 'v1',
        served: true,
        storage: true,
        schema: { openAPIV3Schema: {
          type: 'object',
          properties: { spec: {
            type: 'object',
            required: ['schedule'],
            properties: {
              schedule: { type: 'string' },
              port: { 'x-kubernetes-int-or-string': true },
              options: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          } },
        } },
      }],
    },
  },
}
