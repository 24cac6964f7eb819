// Monitoring: Prometheus (scrapes annotated pods cluster-wide) and Alertmanager, each behind an HTTPS Ingress.
local kube = import 'kube.libsonnet';
local site = import 'site.libsonnet';

{
  namespace:: error 'namespace required',
  host:: error 'host required (Prometheus UI hostname)',
  alertmanager_host:: error 'alertmanager_host required (Alertmanager UI hostname)',
  version:: 'v2.55.1',
  alertmanager_version:: 'v0.27.0',
  storage:: '50Gi',
  retention:: '15d',
  alertmanager_config:: importstr 'config/alertmanager.yml',
  // Name of a Secret (created out of band) with receiver credentials, mounted at
  // /etc/alertmanager/secrets for `*_file` settings in alertmanager_config.
  alertmanager_secret:: null,

  ns: kube.Namespace($.namespace) + site.PodSecurity('restricted'),

  serviceAccount: kube.ServiceAccount('prometheus') {
    metadata+: { namespace: $.namespace },
  },

  // Read-only discovery of scrape targets, cluster-wide.
  clusterRole: kube.ClusterRole('prometheus') {
    rules: [
      {
        apiGroups: [''],
        resources: ['nodes', 'nodes/metrics', 'services', 'endpoints', 'pods'],
        verbs: ['get', 'list', 'watch'],
      },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'watch'] },
      { nonResourceURLs: ['/metrics'], verbs: ['get'] },
    ],
  },

  clusterRoleBinding: kube.ClusterRoleBinding('prometheus') {
    roleRef_: $.clusterRole,
    subjects_: [$.serviceAccount],
  },

  config: kube.ConfigMap('prometheus') {
    metadata+: { namespace: $.namespace },
    data: {
      'prometheus.yml': importstr 'config/prometheus.yml',
      'rules.yml': importstr 'config/prometheus-rules.yml',
    },
  },

  data: kube.PersistentVolumeClaim('prometheus-data') {
    metadata+: { namespace: $.namespace },
    storage: $.storage,
  },

  deploy: kube.Deployment('prometheus') {
    metadata+: { namespace: $.namespace },
    spec+: {
      // A ReadWriteOnce volume cannot be attached to the new pod before the old one
      // lets go: stop, then start.
      strategy: { type: 'Recreate' },
      template+: {
        metadata+: {
          annotations+: {
            'config-hash': std.md5($.config.data['prometheus.yml'] + $.config.data['rules.yml']),
          },
        },
        spec+: {
          serviceAccountName: $.serviceAccount.metadata.name,
          // The volume is written by "nobody".
          securityContext+: { fsGroup: 65534 },
          containers_+: {
            prometheus: kube.Container('prometheus') {
              image: 'quay.io/prometheus/prometheus:' + $.version,
              args: [
                '--config.file=/etc/prometheus/prometheus.yml',
                '--storage.tsdb.path=/prometheus',
                '--storage.tsdb.retention.time=' + $.retention,
                '--web.external-url=https://%s/' % $.host,
                '--web.route-prefix=/',
                '--web.enable-lifecycle',
              ],
              ports_+: { web: { containerPort: 9090 } },
              securityContext+: { runAsUser: 65534, runAsGroup: 65534, readOnlyRootFilesystem: true },
              resources: {
                requests: { cpu: '500m', memory: '2Gi' },
                limits: { cpu: '2', memory: '4Gi' },
              },
              readinessProbe: {
                httpGet: { path: '/-/ready', port: 'web' },
                periodSeconds: 10,
              },
              livenessProbe: {
                httpGet: { path: '/-/healthy', port: 'web' },
                // Replaying a large WAL after a restart takes a while.
                initialDelaySeconds: 120,
                periodSeconds: 30,
              },
              volumeMounts_+: {
                config: { mountPath: '/etc/prometheus', readOnly: true },
                data: { mountPath: '/prometheus' },
              },
            },
          },
          volumes_+: {
            config: kube.ConfigMapVolume($.config),
            data: kube.PersistentVolumeClaimVolume($.data),
          },
        },
      },
    },
  },

  svc: kube.Service('prometheus') {
    metadata+: { namespace: $.namespace },
    target_pod: $.deploy.spec.template,
  },

  ingress: site.TlsIngress('prometheus', $.host, $.svc, 'web') {
    metadata+: { namespace: $.namespace },
  },

  alertmanagerConfig: kube.ConfigMap('alertmanager') {
    metadata+: { namespace: $.namespace },
    data: { 'alertmanager.yml': $.alertmanager_config },
  },

  alertmanager: kube.Deployment('alertmanager') {
    metadata+: { namespace: $.namespace },
    spec+: {
      template+: {
        metadata+: {
          annotations+: site.PrometheusScrape(9093) {
            'config-hash': std.md5($.alertmanagerConfig.data['alertmanager.yml']),
          },
        },
        spec+: {
          containers_+: {
            alertmanager: kube.Container('alertmanager') {
              image: 'quay.io/prometheus/alertmanager:' + $.alertmanager_version,
              args: [
                '--config.file=/etc/alertmanager/alertmanager.yml',
                '--storage.path=/alertmanager',
                '--web.external-url=https://%s/' % $.alertmanager_host,
                '--web.route-prefix=/',
              ],
              ports_+: { web: { containerPort: 9093 } },
              securityContext+: { runAsUser: 65534, runAsGroup: 65534, readOnlyRootFilesystem: true },
              resources: {
                requests: { cpu: '10m', memory: '64Mi' },
                limits: { cpu: '200m', memory: '256Mi' },
              },
              readinessProbe: {
                httpGet: { path: '/-/ready', port: 'web' },
                periodSeconds: 10,
              },
              livenessProbe: {
                httpGet: { path: '/-/healthy', port: 'web' },
                periodSeconds: 30,
              },
              volumeMounts_+: {
                config: { mountPath: '/etc/alertmanager', readOnly: true },
                // Silences are lost on restart; acceptable for one small replica.
                data: { mountPath: '/alertmanager' },
              } + (
                if $.alertmanager_secret != null then
                  { secrets: { mountPath: '/etc/alertmanager/secrets', readOnly: true } }
                else {}
              ),
            },
          },
          volumes_+: {
            config: kube.ConfigMapVolume($.alertmanagerConfig),
            data: kube.EmptyDirVolume('1Gi'),
          } + (
            if $.alertmanager_secret != null then { secrets: kube.SecretVolume($.alertmanager_secret) } else {}
          ),
        },
      },
    },
  },

  alertmanagerSvc: kube.Service('alertmanager') {
    metadata+: { namespace: $.namespace },
    target_pod: $.alertmanager.spec.template,
  },

  alertmanagerIngress: site.TlsIngress('alertmanager', $.alertmanager_host, $.alertmanagerSvc, 'web') {
    metadata+: { namespace: $.namespace },
  },
}
