// nginx-ingress: the ingress controller behind every Ingress, exposed through an AWS ELB.
local kube = import 'kube.libsonnet';
local site = import 'site.libsonnet';

{
  namespace:: error 'namespace required',
  replicas:: 1,
  version:: 'v1.11.3',
  // true: an internal ELB, reachable only from our VPCs and VPN.
  internal:: error 'internal required (true for an internal ELB)',

  local electionId = 'ingress-nginx-leader',

  ns: kube.Namespace($.namespace) + site.PodSecurity('restricted'),

  serviceAccount: kube.ServiceAccount('nginx-ingress') {
    metadata+: { namespace: $.namespace },
  },

  // Global nginx settings; per-Ingress tuning goes in Ingress annotations instead.
  config: kube.ConfigMap('nginx-ingress') {
    metadata+: { namespace: $.namespace },
    data: {
      // The ELB speaks plain TCP to us, and externalTrafficPolicy keeps client IPs.
      'use-forwarded-headers': 'false',
      'ssl-redirect': 'true',
      hsts: 'true',
      'proxy-body-size': '64m',
    },
  },

  ingressClass: kube.IngressClass('nginx') {
    metadata+: {
      annotations+: { 'ingressclass.kubernetes.io/is-default-class': 'true' },
    },
    spec: { controller: 'k8s.io/ingress-nginx' },
  },

  clusterRole: kube.ClusterRole('nginx-ingress') {
    rules: [
      {
        apiGroups: [''],
        resources: ['configmaps', 'endpoints', 'nodes', 'pods', 'secrets', 'namespaces'],
        verbs: ['list', 'watch'],
      },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
      { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      {
        apiGroups: ['networking.k8s.io'],
        resources: ['ingresses', 'ingressclasses'],
        verbs: ['get', 'list', 'watch'],
      },
      { apiGroups: ['networking.k8s.io'], resources: ['ingresses/status'], verbs: ['update'] },
    ],
  },

  clusterRoleBinding: kube.ClusterRoleBinding('nginx-ingress') {
    roleRef_: $.clusterRole,
    subjects_: [$.serviceAccount],
  },

  // Leader election (only one replica writes Ingress status) needs a Lease.
  role: kube.Role('nginx-ingress') {
    metadata+: { namespace: $.namespace },
    rules: [
      { apiGroups: [''], resources: ['configmaps', 'pods', 'secrets', 'endpoints'], verbs: ['get'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: [electionId],
        verbs: ['get', 'update'],
      },
    ],
  },

  roleBinding: kube.RoleBinding('nginx-ingress') {
    metadata+: { namespace: $.namespace },
    roleRef_: $.role,
    subjects_: [$.serviceAccount],
  },

  svc: kube.Service('nginx-ingress') + site.LoadBalancer($.internal) {
    metadata+: { namespace: $.namespace },
    target_pod: $.deploy.spec.template,
    ports_: {
      http: { port: 80, targetPort: 'http' },
      https: { port: 443, targetPort: 'https' },
    },
  },

  pdb: kube.PodDisruptionBudget('nginx-ingress-controller') {
    metadata+: { namespace: $.namespace },
    target_pod: $.deploy.spec.template,
    spec+: { maxUnavailable: 1 },
  },

  deploy: kube.Deployment('nginx-ingress-controller') {
    metadata+: { namespace: $.namespace },
    spec+: {
      replicas: $.replicas,
      template+: {
        metadata+: {
          annotations+: site.PrometheusScrape(10254),
        },
        spec+: {
          serviceAccountName: $.serviceAccount.metadata.name,
          // Lets in-flight requests finish when a pod is replaced.
          terminationGracePeriodSeconds: 300,
          containers_+: {
            controller: kube.Container('controller') {
              image: 'registry.k8s.io/ingress-nginx/controller:' + $.version,
              args: [
                '/nginx-ingress-controller',
                '--configmap=$(POD_NAMESPACE)/' + $.config.metadata.name,
                '--publish-service=$(POD_NAMESPACE)/' + $.svc.metadata.name,
                '--election-id=' + electionId,
                '--ingress-class=' + $.ingressClass.metadata.name,
                '--controller-class=' + $.ingressClass.spec.controller,
                '--watch-ingress-without-class=true',
              ],
              env_+: {
                POD_NAME: kube.FieldRef('metadata.name'),
                POD_NAMESPACE: kube.FieldRef('metadata.namespace'),
                LD_PRELOAD: '/usr/local/lib/libmimalloc.so',
              },
              ports_+: {
                http: { containerPort: 80 },
                https: { containerPort: 443 },
                metrics: { containerPort: 10254 },
              },
              // uid 101 is www-data in the image; binding :80 and :443 needs just
              // NET_BIND_SERVICE, the one capability "restricted" allows adding.
              securityContext+: {
                runAsUser: 101,
                runAsGroup: 82,
                capabilities+: { add: ['NET_BIND_SERVICE'] },
              },
              resources: {
                requests: { cpu: '100m', memory: '128Mi' },
                limits: { cpu: '1', memory: '512Mi' },
              },
              readinessProbe: {
                httpGet: { path: '/healthz', port: 10254, scheme: 'HTTP' },
                periodSeconds: 10,
                failureThreshold: 3,
              },
              livenessProbe: {
                httpGet: { path: '/healthz', port: 10254, scheme: 'HTTP' },
                initialDelaySeconds: 10,
                periodSeconds: 10,
                failureThreshold: 5,
              },
              lifecycle: {
                preStop: { exec: { command: ['/wait-shutdown'] } },
              },
            },
          },
        },
      },
    },
  },
}
