local mini = import 'mini.libsonnet';

// A fraction, committed as the C++ jsonnet tool prints it (0.10000000000000001).
mini.List() {
  items_+: {
    cm: {
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: { name: 'floats', namespace: 'app' },
      spec: { limits: [{ type: 'Container', max: { cpu: 0.1 } }] },
    },
  },
}
