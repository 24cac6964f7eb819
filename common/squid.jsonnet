// Squid web cache ("proxy"), the example stack from the article: Deployment, Service and its config.
local kube = import 'kube.libsonnet';
local site = import 'site.libsonnet';

{
  namespace:: error 'namespace required',
  replicas:: 1,
  version:: '5.2-22.04_beta',
  // Client networks allowed to use the cache.
  allowed_networks:: error 'allowed_networks required (the CIDRs of the cluster VPC)',

  ns: kube.Namespace($.namespace) + site.PodSecurity('restricted'),

  config: kube.ConfigMap('proxy') {
    metadata+: { namespace: $.namespace },
    data: {
      // The ACLs come first: squid.conf refers to them further down.
      'squid.conf': std.join('\n', ['acl localnet src ' + n for n in $.allowed_networks])
                    + '\n' + importstr 'config/squid.conf',
    },
  },

  squid_service: kube.Service('proxy') {
    metadata+: { namespace: $.namespace },
    target_pod: $.squid.spec.template,
    port: 80,
  },

  squid: kube.Deployment('proxy') {
    metadata+: { namespace: $.namespace },
    spec+: {
      replicas: $.replicas,
      // A proxy that crashes right after start should not count as available.
      minReadySeconds: 30,
      template+: {
        metadata+: {
          // Roll the pods when the config changes.
          annotations+: { 'config-hash': std.md5($.config.data['squid.conf']) },
        },
        spec+: {
          containers_+: {
            squid: kube.Container('squid') {
              image: 'ubuntu/squid:' + $.version,
              command: ['squid', '-N', '-f', '/etc/squid/squid.conf'],
              ports_+: { proxy: { containerPort: 3128 } },
              // uid 13 is "proxy" in the Ubuntu image; runAsNonRoot needs it numeric.
              securityContext+: { runAsUser: 13, runAsGroup: 13 },
              resources: {
                requests: { cpu: '100m', memory: '256Mi' },
                limits: { cpu: '1', memory: '1Gi' },
              },
              readinessProbe: {
                tcpSocket: { port: 'proxy' },
                periodSeconds: 10,
              },
              livenessProbe: {
                tcpSocket: { port: 'proxy' },
                initialDelaySeconds: 30,
                periodSeconds: 30,
              },
              volumeMounts_+: {
                config: { mountPath: '/etc/squid', readOnly: true },
                cache: { mountPath: '/var/spool/squid' },
                run: { mountPath: '/var/run/squid' },
              },
            },
          },
          initContainers_+: {
            // squid refuses to start on a cache_dir it has not laid out itself.
            'init-cache': kube.Container('init-cache') {
              image: 'ubuntu/squid:' + $.version,
              command: ['squid', '-z', '-N', '-f', '/etc/squid/squid.conf'],
              securityContext+: { runAsUser: 13, runAsGroup: 13 },
              resources: {
                requests: { cpu: '100m', memory: '64Mi' },
                limits: { cpu: '500m', memory: '256Mi' },
              },
              volumeMounts_+: {
                config: { mountPath: '/etc/squid', readOnly: true },
                cache: { mountPath: '/var/spool/squid' },
                run: { mountPath: '/var/run/squid' },
              },
            },
          },
          volumes_+: {
            config: kube.ConfigMapVolume($.config),
            // The cache is only a cache: losing it with the pod is fine.
            cache: kube.EmptyDirVolume('2Gi'),
            run: kube.EmptyDirVolume(),
          },
          securityContext+: { fsGroup: 13 },
        },
      },
    },
  },
}
