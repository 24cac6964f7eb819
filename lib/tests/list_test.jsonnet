// Tests of kube.List and the stack pattern: visible fields are the items, hidden ones are parameters.
local kube = import 'kube.libsonnet';

local stack = {
  namespace:: error 'namespace required',
  replicas:: 1,

  ns: kube.Namespace($.namespace),
  deploy: kube.Deployment('app') {
    metadata+: { namespace: $.namespace },
    spec+: {
      replicas: $.replicas,
      template+: {
        spec+: {
          containers_+: {
            app: kube.Container('app') { image: 'example/app:1.0', ports_+: { http: { containerPort: 8080 } } },
          },
        },
      },
    },
  },
  svc: kube.Service('app') {
    metadata+: { namespace: $.namespace },
    target_pod: $.deploy.spec.template,
    port: 80,
  },
};

local list = kube.List() {
  items_+: stack {
    namespace:: 'apps',
    replicas:: 2,
  },
};

{
  shape: std.assertEqual([list.apiVersion, list.kind], ['v1', 'List']),
  items_in_key_order: std.assertEqual([o.kind for o in list.items], ['Deployment', 'Namespace', 'Service']),
  parameters_are_not_items: std.assertEqual(std.length(list.items), 3),
  namespace_everywhere: std.assertEqual(
    [o.metadata.namespace for o in list.items if o.kind != 'Namespace'],
    ['apps', 'apps'],
  ),
  namespace_object: std.assertEqual(list.items_.ns.metadata.name, 'apps'),
  override_reaches_objects: std.assertEqual(list.items_.deploy.spec.replicas, 2),
  service_follows_deployment: std.assertEqual(list.items_.svc.spec.selector, list.items_.deploy.spec.selector.matchLabels),
  items_are_the_map_values: std.assertEqual(list.items, [list.items_.deploy, list.items_.ns, list.items_.svc]),
  empty_list: std.assertEqual(kube.List().items, []),
}
