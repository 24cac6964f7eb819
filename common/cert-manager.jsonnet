// cert-manager: issues the letsencrypt certificate of every Ingress (DNS-01 challenges).
//
// Left out on purpose: the CRDs, the ClusterIssuer (a custom resource), and the
// webhook and cainjector Deployments that only exist to serve those CRDs. They are
// installed out of band, so everything here validates against the built-in
// Kubernetes schemas.
local kube = import 'kube.libsonnet';
local site = import 'site.libsonnet';

{
  namespace:: error 'namespace required',
  version:: 'v1.16.2',

  ns: kube.Namespace($.namespace) + site.PodSecurity('restricted'),

  serviceAccount: kube.ServiceAccount('cert-manager') {
    metadata+: { namespace: $.namespace },
  },

  clusterRole: kube.ClusterRole('cert-manager-controller') {
    rules: [
      {
        apiGroups: ['cert-manager.io'],
        resources: [
          'certificates',
          'certificates/status',
          'certificates/finalizers',
          'certificaterequests',
          'certificaterequests/status',
          'certificaterequests/finalizers',
          'issuers',
          'issuers/status',
          'clusterissuers',
          'clusterissuers/status',
        ],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      },
      {
        apiGroups: ['acme.cert-manager.io'],
        resources: ['orders', 'orders/status', 'orders/finalizers', 'challenges', 'challenges/status', 'challenges/finalizers'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      },
      // Approving requests for our own issuers.
      {
        apiGroups: ['cert-manager.io'],
        resources: ['signers'],
        resourceNames: ['issuers.cert-manager.io/*', 'clusterissuers.cert-manager.io/*'],
        verbs: ['approve'],
      },
      // Certificates are stored as TLS Secrets.
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      // ingress-shim: Ingresses with our annotation get a Certificate.
      {
        apiGroups: ['networking.k8s.io'],
        resources: ['ingresses', 'ingresses/finalizers'],
        verbs: ['get', 'list', 'watch', 'update'],
      },
    ],
  },

  clusterRoleBinding: kube.ClusterRoleBinding('cert-manager-controller') {
    roleRef_: $.clusterRole,
    subjects_: [$.serviceAccount],
  },

  // Leader election happens in our own namespace rather than kube-system.
  role: kube.Role('cert-manager-leader-election') {
    metadata+: { namespace: $.namespace },
    rules: [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update', 'patch'] },
    ],
  },

  roleBinding: kube.RoleBinding('cert-manager-leader-election') {
    metadata+: { namespace: $.namespace },
    roleRef_: $.role,
    subjects_: [$.serviceAccount],
  },

  deploy: kube.Deployment('cert-manager') {
    metadata+: {
      namespace: $.namespace,
      // A waiver lives with the object it excuses; the gate reports it as skipped
      // until it expires (see policies/README.md).
      annotations+: {
        'policyrun.io/waivers': std.manifestJsonMinified([{
          rule: 'security.deny_readiness_probe',
          reason: 'the controller serves no traffic; its liveness probe catches a wedged leader election',
          owner: 'team-platform',
          expires: '2027-06-30',
        }]),
      },
    },
    spec+: {
      template+: {
        metadata+: {
          annotations+: site.PrometheusScrape(9402),
        },
        spec+: {
          serviceAccountName: $.serviceAccount.metadata.name,
          containers_+: {
            controller: kube.Container('controller') {
              image: 'quay.io/jetstack/cert-manager-controller:' + $.version,
              args: [
                '--v=2',
                '--cluster-resource-namespace=$(POD_NAMESPACE)',
                '--leader-election-namespace=$(POD_NAMESPACE)',
                '--acme-http01-solver-image=quay.io/jetstack/cert-manager-acmesolver:' + $.version,
                // Our ELBs are not reachable from letsencrypt: DNS-01 only, so
                // ask public resolvers whether the challenge record is visible.
                '--dns01-recursive-nameservers-only',
                '--dns01-recursive-nameservers=8.8.8.8:53,1.1.1.1:53',
                '--max-concurrent-challenges=60',
              ],
              env_+: {
                POD_NAMESPACE: kube.FieldRef('metadata.namespace'),
              },
              ports_+: {
                'http-metrics': { containerPort: 9402 },
                'http-healthz': { containerPort: 9403 },
              },
              securityContext+: { runAsUser: 1000, readOnlyRootFilesystem: true },
              resources: {
                requests: { cpu: '10m', memory: '64Mi' },
                limits: { cpu: '500m', memory: '256Mi' },
              },
              // The controller serves no traffic, so no readiness probe; liveness
              // catches a wedged leader-election loop.
              livenessProbe: {
                httpGet: { path: '/livez', port: 'http-healthz', scheme: 'HTTP' },
                initialDelaySeconds: 10,
                periodSeconds: 10,
                timeoutSeconds: 15,
                failureThreshold: 8,
              },
            },
          },
        },
      },
    },
  },
}
