// Objects shared by every cluster; the cluster's name comes in as an ext var.
{
  namespace(name):: {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: name, labels: { owner: std.extVar('owner') } },
  },
  weights(name, namespace):: {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: name, namespace: namespace },
    data: {
      cluster: std.extVar('cluster'),
      // Unicode, escapes and an empty object: formatting the C++ tool must agree on.
      greeting: 'grüße \u2028 "quoted" \t tab',
    },
    binaryData: {},
    weights: [1, -0, 1e3, 12345678901234],
  },
}
