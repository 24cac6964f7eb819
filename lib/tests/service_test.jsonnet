// Tests of kube.Service built from its target_pod: selector, derived ports, the port: shorthand.
local kube = import 'kube.libsonnet';

local deploy = kube.Deployment('proxy') {
  metadata+: { namespace: 'webcache' },
  spec+: {
    template+: {
      metadata+: { labels+: { tier: 'cache' } },
      spec+: {
        containers_+: {
          squid: kube.Container('squid') {
            image: 'ubuntu/squid:5.2-22.04_beta',
            ports_+: {
              proxy: { containerPort: 3128 },
              icp: { containerPort: 3130, protocol: 'UDP' },
            },
          },
        },
      },
    },
  },
};

// As in the article: one container port, so port: 80 can only mean that one.
local single = deploy {
  spec+: { template+: { spec+: { containers_+: { squid+: { ports_: { proxy: { containerPort: 3128 } } } } } } },
};
local shorthand = kube.Service('proxy') {
  metadata+: { namespace: 'webcache' },
  target_pod: single.spec.template,
  port: 80,
};

local derived = kube.Service('proxy') {
  metadata+: { namespace: 'webcache' },
  target_pod: deploy.spec.template,
};

local explicit = derived {
  ports_: { http: kube.ServicePort(8080, 'proxy') },
  spec+: { type: 'LoadBalancer' },
};

{
  selector_from_template_labels: std.assertEqual(shorthand.spec.selector, { name: 'proxy', tier: 'cache' }),
  shorthand_ports: std.assertEqual(shorthand.spec.ports, [{ name: 'proxy', port: 80, targetPort: 'proxy' }]),
  derived_ports_sorted_by_name: std.assertEqual(derived.spec.ports, [
    { name: 'icp', port: 3130, targetPort: 'icp', protocol: 'UDP' },
    { name: 'proxy', port: 3128, targetPort: 'proxy' },
  ]),
  explicit_ports: std.assertEqual(explicit.spec.ports, [{ name: 'http', port: 8080, targetPort: 'proxy' }]),
  override_type: std.assertEqual(explicit.spec.type, 'LoadBalancer'),
  default_type: std.assertEqual(derived.spec.type, 'ClusterIP'),
  // target_pod and port are parameters, never part of the object.
  hidden_parameters: std.assertEqual(std.objectFields(shorthand), ['apiVersion', 'kind', 'metadata', 'spec']),
  full_object: std.assertEqual(shorthand, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'proxy', namespace: 'webcache', labels: { name: 'proxy' } },
    spec: {
      type: 'ClusterIP',
      selector: { name: 'proxy', tier: 'cache' },
      ports: [{ name: 'proxy', port: 80, targetPort: 'proxy' }],
    },
  }),
}
