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
  },
  // Numbers, in quantities: -0, exponents, large integers and (in web) a fraction.
  limits(name, namespace, cpu):: {
    apiVersion: 'v1',
    kind: 'LimitRange',
    metadata: { name: name, namespace: namespace },
    spec: {
      limits: [{
        type: 'Container',
        max: { cpu: cpu, memory: 12345678901234 },
        min: { cpu: -0, memory: 1e3 },
      }],
    },
  },
}
