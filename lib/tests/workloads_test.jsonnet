// Tests of the workload constructors: namespace, labels and selectors, overrides with +:.
local kube = import 'kube.libsonnet';

local app = kube.Container('app') { image: 'example/app:1.0' };
local withPod(o) = o {
  metadata+: { namespace: 'apps' },
  spec+: { template+: { spec+: { containers_+: { app: app } } } },
};

local deploy = withPod(kube.Deployment('web'));
local bigger = deploy {
  metadata+: { labels+: { team: 'sre' } },
  spec+: { replicas: 3, strategy: { type: 'Recreate' } },
};
local sts = withPod(kube.StatefulSet('db')) {
  spec+: { volumeClaimTemplates_+: { data: kube.VolumeClaimTemplate('10Gi') } },
};
local ds = withPod(kube.DaemonSet('agent'));
local job = kube.Job('migrate') {
  metadata+: { namespace: 'apps' },
  spec+: { template+: { spec+: { containers_+: { app: app } } } },
};
local cron = kube.CronJob('cleanup') {
  metadata+: { namespace: 'apps' },
  spec+: {
    schedule: '0 3 * * *',
    jobTemplate+: { spec+: { template+: { spec+: { containers_+: { app: app } } } } },
  },
};
local hpa = kube.HorizontalPodAutoscaler('web') {
  metadata+: { namespace: 'apps' },
  target: deploy,
  spec+: { maxReplicas: 5 },
};
local pdb = kube.PodDisruptionBudget('web') {
  metadata+: { namespace: 'apps' },
  target_pod: deploy.spec.template,
  spec+: { minAvailable: 1 },
};
local pvc = kube.PersistentVolumeClaim('data') {
  metadata+: { namespace: 'apps' },
  storage: '5Gi',
};
local ingress = kube.Ingress('web') {
  metadata+: { namespace: 'apps' },
  spec+: { rules: [kube.IngressRule('web.dev.example.com', 'web', 80)] },
};

{
  api_versions: std.assertEqual(
    [o.apiVersion for o in [deploy, sts, ds, job, cron, hpa, pdb, pvc, ingress]],
    ['apps/v1', 'apps/v1', 'apps/v1', 'batch/v1', 'batch/v1', 'autoscaling/v2', 'policy/v1', 'v1', 'networking.k8s.io/v1'],
  ),
  namespace: std.assertEqual(deploy.metadata, { name: 'web', namespace: 'apps', labels: { name: 'web' } }),
  selector_follows_labels: std.assertEqual(deploy.spec.selector, { matchLabels: { name: 'web' } }),
  template_labels: std.assertEqual(deploy.spec.template.metadata.labels, { name: 'web' }),
  added_label_everywhere: std.assertEqual(bigger.spec.selector.matchLabels, bigger.spec.template.metadata.labels),
  replicas_override: std.assertEqual(bigger.spec.replicas, 3),
  strategy_replaced: std.assertEqual(bigger.spec.strategy, { type: 'Recreate' }),
  default_strategy: std.assertEqual(deploy.spec.strategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 }),

  sts_service_name: std.assertEqual(sts.spec.serviceName, 'db'),
  sts_claims: std.assertEqual(sts.spec.volumeClaimTemplates, [{
    metadata: { name: 'data' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } },
  }]),
  ds_selector: std.assertEqual(ds.spec.selector.matchLabels, { name: 'agent' }),
  job_restart_policy: std.assertEqual(job.spec.template.spec.restartPolicy, 'OnFailure'),
  cron_schedule: std.assertEqual(cron.spec.schedule, '0 3 * * *'),
  cron_container: std.assertEqual(cron.spec.jobTemplate.spec.template.spec.containers[0].name, 'app'),

  hpa_target: std.assertEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }),
  pdb_selector: std.assertEqual(pdb.spec, { selector: { matchLabels: { name: 'web' } }, minAvailable: 1 }),
  pvc_storage: std.assertEqual(pvc.spec.resources.requests.storage, '5Gi'),
  ingress_backend: std.assertEqual(
    ingress.spec.rules[0].http.paths[0].backend,
    { service: { name: 'web', port: { number: 80 } } },
  ),
}
