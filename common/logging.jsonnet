// Logging: the classic fluentd -> Elasticsearch -> Kibana stack collecting every container's logs.
local kube = import 'kube.libsonnet';
local site = import 'site.libsonnet';

{
  namespace:: error 'namespace required',
  kibana_host:: error 'kibana_host required (Kibana UI hostname)',
  elasticsearch_replicas:: 3,
  elasticsearch_storage:: '100Gi',
  // Half of the container memory limit goes to the JVM heap, the rest to the page cache.
  elasticsearch_heap:: '1g',
  elasticsearch_memory:: '2Gi',
  elastic_version:: '7.17.25',
  fluentd_version:: 'v1.17.1-debian-elasticsearch7-1.0',

  // fluentd reads the nodes' log files through hostPath as root, which only the
  // "privileged" Pod Security level allows. Nothing else runs in this namespace.
  ns: kube.Namespace($.namespace) + site.PodSecurity('privileged'),

  // ---- fluentd, one per node ----

  fluentdServiceAccount: kube.ServiceAccount('fluentd') {
    metadata+: { namespace: $.namespace },
  },

  // The kubernetes_metadata filter looks up the pod and namespace of each log line.
  fluentdClusterRole: kube.ClusterRole('fluentd') {
    rules: [
      { apiGroups: [''], resources: ['pods', 'namespaces'], verbs: ['get', 'list', 'watch'] },
    ],
  },

  fluentdClusterRoleBinding: kube.ClusterRoleBinding('fluentd') {
    roleRef_: $.fluentdClusterRole,
    subjects_: [$.fluentdServiceAccount],
  },

  fluentdConfig: kube.ConfigMap('fluentd') {
    metadata+: { namespace: $.namespace },
    data: { 'fluent.conf': importstr 'config/fluentd.conf' },
  },

  fluentd: kube.DaemonSet('fluentd') {
    metadata+: { namespace: $.namespace },
    spec+: {
      template+: {
        metadata+: {
          annotations+: site.PrometheusScrape(24231) {
            'config-hash': std.md5($.fluentdConfig.data['fluent.conf']),
          },
        },
        spec+: {
          serviceAccountName: $.fluentdServiceAccount.metadata.name,
          // Control-plane nodes have logs too.
          tolerations: [
            { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
          ],
          priorityClassName: 'system-node-critical',
          containers_+: {
            fluentd: kube.Container('fluentd') {
              image: 'fluent/fluentd-kubernetes-daemonset:' + $.fluentd_version,
              env_+: {
                FLUENT_ELASTICSEARCH_HOST: $.elasticsearchSvc.metadata.name,
                FLUENT_ELASTICSEARCH_PORT: std.toString($.elasticsearchSvc.spec.ports[0].port),
                K8S_NODE_NAME: kube.FieldRef('spec.nodeName'),
              },
              ports_+: { metrics: { containerPort: 24231 } },
              // Log files on the node belong to root (mode 0640).
              securityContext+: { runAsNonRoot: false, runAsUser: 0 },
              resources: {
                requests: { cpu: '100m', memory: '256Mi' },
                limits: { cpu: '500m', memory: '512Mi' },
              },
              readinessProbe: {
                httpGet: { path: '/metrics', port: 'metrics' },
                periodSeconds: 10,
              },
              livenessProbe: {
                httpGet: { path: '/metrics', port: 'metrics' },
                initialDelaySeconds: 60,
                periodSeconds: 30,
              },
              volumeMounts_+: {
                config: { mountPath: '/fluentd/etc', readOnly: true },
                varlog: { mountPath: '/var/log', readOnly: true },
                state: { mountPath: '/var/lib/fluentd' },
              },
            },
          },
          volumes_+: {
            config: kube.ConfigMapVolume($.fluentdConfig),
            varlog: kube.HostPathVolume('/var/log', 'Directory'),
            // Tail positions and the output buffer outlive the pod, so a restart
            // neither re-ships nor drops logs.
            state: kube.HostPathVolume('/var/lib/fluentd', 'DirectoryOrCreate'),
          },
        },
      },
    },
  },

  // ---- Elasticsearch ----

  // Pods find each other for cluster formation through this headless Service.
  elasticsearchDiscovery: kube.Service('elasticsearch-discovery') {
    metadata+: { namespace: $.namespace },
    target_pod: $.elasticsearch.spec.template,
    ports_: { transport: { port: 9300, targetPort: 'transport' } },
    spec+: { clusterIP: 'None', publishNotReadyAddresses: true },
  },

  elasticsearchSvc: kube.Service('elasticsearch') {
    metadata+: { namespace: $.namespace },
    target_pod: $.elasticsearch.spec.template,
    ports_: { http: { port: 9200, targetPort: 'http' } },
  },

  elasticsearch: kube.StatefulSet('elasticsearch') {
    metadata+: { namespace: $.namespace },
    local replicas = $.elasticsearch_replicas,
    spec+: {
      serviceName: $.elasticsearchDiscovery.metadata.name,
      replicas: replicas,
      // Nodes join the cluster in any order; ordered startup only slows it down.
      podManagementPolicy: 'Parallel',
      template+: {
        spec+: {
          securityContext+: { fsGroup: 1000 },
          // Spread the data copies over nodes.
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [{
                weight: 100,
                podAffinityTerm: {
                  topologyKey: 'kubernetes.io/hostname',
                  labelSelector: { matchLabels: $.elasticsearch.spec.selector.matchLabels },
                },
              }],
            },
          },
          containers_+: {
            elasticsearch: kube.Container('elasticsearch') {
              image: 'docker.elastic.co/elasticsearch/elasticsearch:' + $.elastic_version,
              env_+: {
                'cluster.name': 'logging',
                'node.name': kube.FieldRef('metadata.name'),
                ES_JAVA_OPTS: '-Xms%s -Xmx%s' % [$.elasticsearch_heap, $.elasticsearch_heap],
                // mmap would need vm.max_map_count raised on the node, i.e. a
                // privileged init container; niofs is slower but unprivileged.
                'node.store.allow_mmap': 'false',
                // Only reachable inside this namespace (see the NetworkPolicy).
                'xpack.security.enabled': 'false',
              } + (
                if replicas == 1 then
                  { 'discovery.type': 'single-node' }
                else {
                  'discovery.seed_hosts': $.elasticsearchDiscovery.metadata.name,
                  'cluster.initial_master_nodes': std.join(',', ['elasticsearch-%d' % i for i in std.range(0, replicas - 1)]),
                }
              ),
              ports_+: {
                http: { containerPort: 9200 },
                transport: { containerPort: 9300 },
              },
              securityContext+: { runAsUser: 1000, runAsGroup: 1000 },
              resources: {
                requests: { cpu: '500m', memory: $.elasticsearch_memory },
                limits: { cpu: '2', memory: $.elasticsearch_memory },
              },
              readinessProbe: {
                httpGet: { path: '/_cluster/health?local=true', port: 'http' },
                initialDelaySeconds: 20,
                periodSeconds: 10,
              },
              volumeMounts_+: {
                data: { mountPath: '/usr/share/elasticsearch/data' },
              },
            },
          },
        },
      },
      volumeClaimTemplates_+: {
        data: kube.VolumeClaimTemplate($.elasticsearch_storage),
      },
    },
  },

  // Elasticsearch runs without authentication: only pods of this namespace
  // (fluentd, Kibana, other Elasticsearch nodes) may talk to it.
  elasticsearchPolicy: kube.NetworkPolicy('elasticsearch') {
    metadata+: { namespace: $.namespace },
    spec+: {
      podSelector: { matchLabels: $.elasticsearch.spec.selector.matchLabels },
      ingress: [{
        from: [{ podSelector: {} }],
        ports: [
          { protocol: 'TCP', port: 9200 },
          { protocol: 'TCP', port: 9300 },
        ],
      }],
    },
  },

  elasticsearchPdb: kube.PodDisruptionBudget('elasticsearch') {
    metadata+: { namespace: $.namespace },
    target_pod: $.elasticsearch.spec.template,
    spec+: { maxUnavailable: 1 },
  },

  // ---- Kibana ----

  kibana: kube.Deployment('kibana') {
    metadata+: { namespace: $.namespace },
    spec+: {
      template+: {
        spec+: {
          containers_+: {
            kibana: kube.Container('kibana') {
              image: 'docker.elastic.co/kibana/kibana:' + $.elastic_version,
              env_+: {
                ELASTICSEARCH_HOSTS: 'http://%s:%d' % [$.elasticsearchSvc.metadata.name, $.elasticsearchSvc.spec.ports[0].port],
                SERVER_PUBLICBASEURL: 'https://%s' % $.kibana_host,
              },
              ports_+: { http: { containerPort: 5601 } },
              securityContext+: { runAsUser: 1000, runAsGroup: 1000 },
              resources: {
                requests: { cpu: '100m', memory: '512Mi' },
                limits: { cpu: '1', memory: '1Gi' },
              },
              readinessProbe: {
                httpGet: { path: '/api/status', port: 'http' },
                initialDelaySeconds: 30,
                periodSeconds: 10,
              },
            },
          },
        },
      },
    },
  },

  kibanaSvc: kube.Service('kibana') {
    metadata+: { namespace: $.namespace },
    target_pod: $.kibana.spec.template,
    port: 80,
  },

  kibanaIngress: site.TlsIngress('kibana', $.kibana_host, $.kibanaSvc, 80) {
    metadata+: { namespace: $.namespace },
  },
}
