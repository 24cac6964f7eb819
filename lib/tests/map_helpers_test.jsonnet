// Tests of the foo_ map helpers: ordered by key, key becomes the name, +: patches one item.
local kube = import 'kube.libsonnet';

local container = kube.Container('app') {
  image: 'example/app:1.0',
  ports_+: {
    metrics: { containerPort: 9102 },
    http: { containerPort: 8080 },
  },
  env_+: {
    ZONE: 'eu',
    API_TOKEN: kube.SecretKeyRef('app-token', 'token'),
    POD_IP: kube.FieldRef('status.podIP'),
  },
  volumeMounts_+: {
    config: { mountPath: '/etc/app', readOnly: true },
  },
};

local deploy = kube.Deployment('app') {
  metadata+: { namespace: 'apps' },
  spec+: {
    template+: {
      spec+: {
        containers_+: {
          // Keys, not declaration order, decide the order of the list.
          zsidecar: kube.Container('zsidecar') { image: 'example/sidecar:2.1' },
          app: container,
        },
        initContainers_+: {
          migrate: kube.Container('migrate') { image: 'example/app:1.0', args: ['migrate'] },
        },
        volumes_+: {
          data: kube.EmptyDirVolume('1Gi'),
          config: kube.ConfigMapVolume('app-config'),
        },
      },
    },
  },
};

// A later layer patches one container without touching the others.
local patched = deploy {
  spec+: {
    template+: {
      spec+: {
        containers_+: {
          app+: { env_+: { ZONE: 'us' }, resources+: { limits: { memory: '1Gi' } } },
        },
      },
    },
  },
};

local podSpec = deploy.spec.template.spec;

{
  containers_order: std.assertEqual([c.name for c in podSpec.containers], ['app', 'zsidecar']),
  ports_order_and_names: std.assertEqual(podSpec.containers[0].ports, [
    { name: 'http', containerPort: 8080 },
    { name: 'metrics', containerPort: 9102 },
  ]),
  env: std.assertEqual(podSpec.containers[0].env, [
    { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'app-token', key: 'token' } } },
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: 'ZONE', value: 'eu' },
  ]),
  volumeMounts: std.assertEqual(podSpec.containers[0].volumeMounts, [
    { name: 'config', mountPath: '/etc/app', readOnly: true },
  ]),
  volumes: std.assertEqual(podSpec.volumes, [
    { name: 'config', configMap: { name: 'app-config' } },
    { name: 'data', emptyDir: { sizeLimit: '1Gi' } },
  ]),
  initContainers: std.assertEqual([c.name for c in podSpec.initContainers], ['migrate']),
  empty_maps_give_empty_lists: std.assertEqual(podSpec.containers[1].ports, []),
  helpers_are_hidden: std.assertEqual(std.objectHas(podSpec, 'containers_'), false),

  patched_env: std.assertEqual(
    [e for e in patched.spec.template.spec.containers[0].env if e.name == 'ZONE'],
    [{ name: 'ZONE', value: 'us' }],
  ),
  patched_keeps_other_fields: std.assertEqual(patched.spec.template.spec.containers[0].image, 'example/app:1.0'),
  patched_resources: std.assertEqual(patched.spec.template.spec.containers[0].resources, { limits: { memory: '1Gi' } }),
  patched_keeps_sidecar: std.assertEqual(patched.spec.template.spec.containers[1], podSpec.containers[1]),

  restricted_by_default: std.assertEqual(container.securityContext, {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  }),
  securityContext_override: std.assertEqual(
    (container { securityContext+: { runAsUser: 1000 } }).securityContext.runAsUser,
    1000,
  ),
}
