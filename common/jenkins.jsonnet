// Jenkins: the CI/CD machinery, building in agent pods it starts in its own namespace.
local kube = import 'kube.libsonnet';
local site = import 'site.libsonnet';

{
  namespace:: error 'namespace required',
  host:: error 'host required (Jenkins UI hostname)',
  version:: '2.479.1-lts-jdk17',
  storage:: '100Gi',
  // Java heap, in step with the container memory limit below.
  heap:: '2g',

  // Build agents are pods of this namespace, and build images often run as root:
  // "baseline" still forbids host access and privilege escalation paths.
  ns: kube.Namespace($.namespace) + site.PodSecurity('baseline'),

  serviceAccount: kube.ServiceAccount('jenkins') {
    metadata+: { namespace: $.namespace },
  },

  // The kubernetes plugin runs every build in an agent pod next to Jenkins.
  agentsRole: kube.Role('jenkins-agents') {
    metadata+: { namespace: $.namespace },
    rules: [
      { apiGroups: [''], resources: ['pods'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] },
      { apiGroups: [''], resources: ['pods/exec'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] },
      { apiGroups: [''], resources: ['pods/log', 'events'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
    ],
  },

  agentsRoleBinding: kube.RoleBinding('jenkins-agents') {
    metadata+: { namespace: $.namespace },
    roleRef_: $.agentsRole,
    subjects_: [$.serviceAccount],
  },

  casc: kube.ConfigMap('jenkins-casc') {
    metadata+: { namespace: $.namespace },
    data: { 'jenkins.yaml': importstr 'config/jenkins-casc.yaml' },
  },

  home: kube.PersistentVolumeClaim('jenkins-home') {
    metadata+: { namespace: $.namespace },
    storage: $.storage,
  },

  deploy: kube.Deployment('jenkins') {
    metadata+: { namespace: $.namespace },
    spec+: {
      // One controller owns JENKINS_HOME: never two at once, even during a rollout.
      strategy: { type: 'Recreate' },
      template+: {
        metadata+: {
          annotations+: site.PrometheusScrape(8080, '/prometheus') {
            'config-hash': std.md5($.casc.data['jenkins.yaml']),
          },
        },
        spec+: {
          serviceAccountName: $.serviceAccount.metadata.name,
          securityContext+: { fsGroup: 1000 },
          containers_+: {
            jenkins: kube.Container('jenkins') {
              image: 'jenkins/jenkins:' + $.version,
              env_+: {
                JAVA_OPTS: std.join(' ', [
                  '-Xms' + $.heap,
                  '-Xmx' + $.heap,
                  '-Dhudson.slaves.NodeProvisioner.initialDelay=0',
                  '-Djenkins.install.runSetupWizard=false',
                ]),
                JENKINS_URL: 'https://%s/' % $.host,
                CASC_JENKINS_CONFIG: '/var/jenkins_config/jenkins.yaml',
                // Read by jenkins.yaml; the Secret is created out of band.
                ADMIN_PASSWORD: kube.SecretKeyRef('jenkins-admin', 'password'),
              },
              ports_+: {
                http: { containerPort: 8080 },
                agent: { containerPort: 50000 },
              },
              securityContext+: { runAsUser: 1000, runAsGroup: 1000 },
              resources: {
                requests: { cpu: '500m', memory: '3Gi' },
                limits: { cpu: '2', memory: '4Gi' },
              },
              readinessProbe: {
                httpGet: { path: '/login', port: 'http' },
                initialDelaySeconds: 60,
                periodSeconds: 10,
                timeoutSeconds: 5,
              },
              livenessProbe: {
                httpGet: { path: '/login', port: 'http' },
                // Loading a big JENKINS_HOME takes minutes.
                initialDelaySeconds: 300,
                periodSeconds: 30,
                timeoutSeconds: 5,
                failureThreshold: 5,
              },
              volumeMounts_+: {
                home: { mountPath: '/var/jenkins_home' },
                casc: { mountPath: '/var/jenkins_config', readOnly: true },
              },
            },
          },
          volumes_+: {
            home: kube.PersistentVolumeClaimVolume($.home),
            casc: kube.ConfigMapVolume($.casc),
          },
        },
      },
    },
  },

  svc: kube.Service('jenkins') {
    metadata+: { namespace: $.namespace },
    target_pod: $.deploy.spec.template,
    ports_: { http: { port: 80, targetPort: 'http' } },
  },

  // Agents connect back over the JNLP port, which must not go through the Ingress.
  agentSvc: kube.Service('jenkins-agent') {
    metadata+: { namespace: $.namespace },
    target_pod: $.deploy.spec.template,
    ports_: { agent: { port: 50000, targetPort: 'agent' } },
  },

  ingress: site.TlsIngress('jenkins', $.host, $.svc, 80) {
    metadata+: {
      namespace: $.namespace,
      // Artifacts and plugin uploads are bigger than nginx's default 1m.
      annotations+: { 'nginx.ingress.kubernetes.io/proxy-body-size': '256m' },
    },
  },
}
