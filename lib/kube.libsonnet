// Our base library: one constructor per Kubernetes kind, each returning the FULL object.
//
// Why full objects: the Kubernetes documentation stays the reference, and any field
// can be overridden with +: at any layer (lib -> common stack -> cluster file).
//
// Conventions:
// - A hidden `foo_::` map is the jsonnet-native form of the Kubernetes list `foo`:
//   keyed by name and ordered by key, so a later layer can add or patch one item
//   (`containers_+: { squid+: { ... } }`) without rewriting the list.
// - Constructors never guess a namespace. Every namespaced object asserts that its
//   metadata.namespace was set, so forgetting it fails at expansion, not at apply.
// - Assert messages start with `Kind "name":` so the broken object is obvious.

// ---- small checks, kept free of regexes (standard jsonnet has none) ----

local isDigit(c) = std.codepoint(c) >= 48 && std.codepoint(c) <= 57;
local isLower(c) = std.codepoint(c) >= 97 && std.codepoint(c) <= 122;
local isLowerAlnum(c) = isDigit(c) || isLower(c);
local all(xs, pred) = std.length(std.filter(function(x) !pred(x), xs)) == 0;
local any(xs, pred) = std.length(std.filter(pred, xs)) > 0;
local contains(s, sub) = std.length(std.findSubstr(sub, s)) > 0;
local isInt(n) = std.isNumber(n) && std.floor(n) == n;

// Lowercase letters, digits and '-', starting and ending with a letter or digit.
local isLabelish(s) =
  std.length(s) > 0
  && all(std.stringChars(s), function(c) isLowerAlnum(c) || c == '-')
  && isLowerAlnum(s[0])
  && isLowerAlnum(s[std.length(s) - 1]);

local validate = {
  dns1123Label(s):: std.isString(s) && std.length(s) <= 63 && isLabelish(s),
  // Service names are DNS-1035 labels: they also become DNS names and env var prefixes.
  dns1035Label(s):: self.dns1123Label(s) && isLower(s[0]),
  dns1123Subdomain(s)::
    std.isString(s) && std.length(s) <= 253 && all(std.split(s, '.'), isLabelish),
  // RBAC names are only path segments, so "cert-manager:controller" is fine.
  pathSegment(s)::
    std.isString(s) && s != '' && s != '.' && s != '..'
    && !contains(s, '/') && !contains(s, '%'),
  // Named ports are IANA service names: short, and not a number.
  portName(s)::
    std.isString(s) && std.length(s) <= 15 && isLabelish(s)
    && any(std.stringChars(s), isLower) && !contains(s, '--'),
  port(n):: isInt(n) && n >= 1 && n <= 65535,
  // A tag on the last path segment (a registry may carry a :port) or a digest.
  imagePinned(image)::
    local segments = std.split(image, '/');
    local last = segments[std.length(segments) - 1];
    std.isString(image)
    && (contains(image, '@sha256:') || (contains(last, ':') && !std.endsWith(last, ':latest'))),
};

local rules = {
  label: {
    check: validate.dns1123Label,
    says: 'a DNS-1123 label (at most 63 lowercase letters, digits or "-", starting and ending with a letter or digit)',
  },
  serviceName: {
    check: validate.dns1035Label,
    says: 'a DNS-1035 label (at most 63 lowercase letters, digits or "-", starting with a letter and ending with a letter or digit)',
  },
  subdomain: {
    check: validate.dns1123Subdomain,
    says: 'a DNS-1123 subdomain (at most 253 lowercase letters, digits, "-" or ".", each part starting and ending with a letter or digit)',
  },
  rbac: {
    check: validate.pathSegment,
    says: 'a non-empty path segment (no "/" or "%")',
  },
};

local nameOf(x) = if std.isString(x) then x else x.metadata.name;
local has(o, field) = std.isObject(o) && std.objectHas(o, field);
local nonStringValues(o, field) =
  if has(o, field) then [k for k in std.objectFields(o[field]) if !std.isString(o[field][k])] else [];

// The map-to-list helper behind every `foo_::` field: ordered by key, key is the name.
local namedList(what, map) = [
  local item = map[k];
  assert std.isObject(item) : '%s["%s"] must be an object, got %s' % [what, k, std.type(item)];
  assert !(has(item, 'apiVersion') && has(item, 'kind')) :
         '%s["%s"] is a whole %s object; use a helper such as kube.ConfigMapVolume() to refer to it' % [what, k, item.kind];
  assert !has(item, 'name') || item.name == k :
         '%s: key "%s" holds an item named "%s"; the key is the name, make them agree' % [what, k, item.name];
  item { name: k }
  for k in std.objectFields(map)
];

// env_ values are plain strings, or objects carrying valueFrom (kube.SecretKeyRef...).
local envList(map) = [
  local v = map[k];
  if std.isObject(v) then v { name: k } else { name: k, value: v }
  for k in std.objectFields(map)
];

// Every object: identity, a `name` label (what selectors use by default), and checks
// that catch the usual typos before anything reaches a cluster.
local object(apiVersion, kind, name, rule, labelled=true) = {
  apiVersion: apiVersion,
  kind: kind,
  metadata: { name: name } + (if labelled then { labels: { name: name } } else {}),

  local what = '%s "%s"' % [self.kind, self.metadata.name],
  assert rule.check(self.metadata.name) : '%s: metadata.name must be %s' % [what, rule.says],
  assert nonStringValues(self.metadata, 'labels') == [] :
         '%s: metadata.labels["%s"] must be a string (quote it)' % [what, nonStringValues(self.metadata, 'labels')[0]],
  assert nonStringValues(self.metadata, 'annotations') == [] :
         '%s: metadata.annotations["%s"] must be a string (quote it)' % [what, nonStringValues(self.metadata, 'annotations')[0]],
};

local namespaced = {
  local what = '%s "%s"' % [self.kind, self.metadata.name],
  assert has(self.metadata, 'namespace') :
         '%s: metadata.namespace is not set; every namespaced object names its namespace explicitly' % what,
  assert !has(self.metadata, 'namespace') || validate.dns1123Label(self.metadata.namespace) :
         '%s: metadata.namespace must be %s' % [what, rules.label.says],
};

local clusterScoped = {
  local what = '%s "%s"' % [self.kind, self.metadata.name],
  assert !has(self.metadata, 'namespace') :
         '%s: metadata.namespace is set, but %s is cluster-scoped' % [what, self.kind],
};

// Pod template spec shared by every workload kind.
local podSpec(what) = {
  containers_:: {},
  containers: namedList(what + ' containers_', self.containers_),
  initContainers_:: {},
  initContainers: namedList(what + ' initContainers_', self.initContainers_),
  volumes_:: {},
  volumes: namedList(what + ' volumes_', self.volumes_),
  assert std.length(self.containers) > 0 : '%s: the pod needs at least one container (set containers_)' % what,
};

// The selector of a controller must select its own pods, or the API server refuses it
// (or worse, it adopts someone else's pods).
local selectsTemplate = {
  local what = '%s "%s"' % [self.kind, self.metadata.name],
  local selector = if has(self.spec, 'selector') && has(self.spec.selector, 'matchLabels') then self.spec.selector.matchLabels else {},
  local labels = if has(self.spec.template, 'metadata') && has(self.spec.template.metadata, 'labels') then self.spec.template.metadata.labels else {},
  assert std.length(selector) > 0 || (has(self.spec, 'selector') && has(self.spec.selector, 'matchExpressions')) :
         '%s: spec.selector.matchLabels is empty' % what,
  assert all(std.objectFields(selector), function(k) has(labels, k) && labels[k] == selector[k]) :
         '%s: spec.selector.matchLabels %s does not match spec.template.metadata.labels %s' % [what, std.toString(selector), std.toString(labels)],
};

// Defaults that pass the Pod Security Standards "restricted" profile; a container that
// really needs more overrides this explicitly, where a reviewer can see it.
local restrictedSecurityContext = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

local jobSpec(what, labels) = {
  backoffLimit: 6,
  template: {
    metadata: { labels: labels },
    spec: podSpec(what) { restartPolicy: 'OnFailure' },
  },
};

{
  validate:: validate,

  // ---- cluster-scoped ----

  Namespace(name):: object('v1', 'Namespace', name, rules.label) + clusterScoped,

  ClusterRole(name):: object('rbac.authorization.k8s.io/v1', 'ClusterRole', name, rules.rbac, labelled=false) + clusterScoped {
    rules: [],
  },

  ClusterRoleBinding(name):: object('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', name, rules.rbac, labelled=false) + clusterScoped {
    local binding = self,
    roleRef_:: error 'ClusterRoleBinding "%s": roleRef_ is required (a kube.ClusterRole)' % name,
    subjects_:: [],
    roleRef: {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: binding.roleRef_.kind,
      name: binding.roleRef_.metadata.name,
    },
    subjects: [$.Subject(s) for s in binding.subjects_],
    assert self.roleRef.kind == 'ClusterRole' :
           'ClusterRoleBinding "%s": roleRef_ must be a ClusterRole, got %s' % [self.metadata.name, self.roleRef.kind],
    assert std.length(self.subjects) > 0 : 'ClusterRoleBinding "%s": binds no subjects (set subjects_)' % self.metadata.name,
  },

  IngressClass(name):: object('networking.k8s.io/v1', 'IngressClass', name, rules.subdomain) + clusterScoped {
    spec: { controller: error 'IngressClass "%s": spec.controller is required' % name },
  },

  // ---- namespaced ----

  ServiceAccount(name):: object('v1', 'ServiceAccount', name, rules.subdomain) + namespaced,

  ConfigMap(name):: object('v1', 'ConfigMap', name, rules.subdomain) + namespaced {
    data: {},
    local bad = nonStringValues(self, 'data'),
    assert bad == [] : 'ConfigMap "%s": data["%s"] must be a string, got %s (quote it, or std.toString it)' % [
      self.metadata.name,
      bad[0],
      std.type(self.data[bad[0]]),
    ],
  },

  // Secret values never live in git: stacks reference Secrets created out of band by
  // name (kube.SecretKeyRef, kube.SecretVolume). The constructor exists for the shape.
  Secret(name):: object('v1', 'Secret', name, rules.subdomain) + namespaced {
    type: 'Opaque',
    data: {},
    local bad = nonStringValues(self, 'data'),
    assert bad == [] : 'Secret "%s": data["%s"] must be a base64 string' % [self.metadata.name, bad[0]],
  },

  // A Service is built from the pod template it fronts: the selector is the template's
  // labels, the ports are its first container's ports, unless `port:` or ports_ says
  // otherwise. `port: 80` maps 80 to the container's only port, as in the article.
  Service(name):: object('v1', 'Service', name, rules.serviceName) + namespaced {
    local service = self,
    target_pod:: error 'Service "%s": target_pod is required (usually $.deploy.spec.template)' % name,
    port:: null,

    local pod = service.target_pod,
    local podLabels = if has(pod, 'metadata') && has(pod.metadata, 'labels') then pod.metadata.labels else {},
    local containers = if has(pod, 'spec') && has(pod.spec, 'containers') then pod.spec.containers else [],
    local podPorts = if std.length(containers) > 0 && has(containers[0], 'ports') then containers[0].ports else [],
    local portName(p) = if has(p, 'name') then p.name else 'port-%d' % p.containerPort,
    local targetPort(p) = if has(p, 'name') then p.name else p.containerPort,

    ports_::
      if std.length(podPorts) == 0 then
        error 'Service "%s": target_pod\'s first container has no ports; set ports_' % name
      else if service.port != null then
        // ports_ maps are ordered by key, not as written: "the first port" of several
        // would be a guess, so refuse it.
        if std.length(podPorts) > 1 then
          error 'Service "%s": port: is ambiguous, target_pod\'s first container has %d ports (%s); set ports_ instead' % [
            name,
            std.length(podPorts),
            std.join(', ', [portName(p) for p in podPorts]),
          ]
        else
          { [portName(podPorts[0])]: { port: service.port, targetPort: targetPort(podPorts[0]) } }
      else
        {
          [portName(p)]: { port: p.containerPort, targetPort: targetPort(p) }
                         + (if has(p, 'protocol') then { protocol: p.protocol } else {})
          for p in podPorts
        },

    spec: {
      type: 'ClusterIP',
      selector: podLabels,
      ports: namedList('Service "%s" ports_' % name, service.ports_),
    },

    assert !has(self.spec, 'selector') || std.length(self.spec.selector) > 0 :
           'Service "%s": target_pod has no metadata.labels to select on' % self.metadata.name,
    assert all(self.spec.ports, function(p) has(p, 'port') && validate.port(p.port)) :
           'Service "%s": every port must be an integer in 1..65535' % self.metadata.name,
  },

  Deployment(name):: object('apps/v1', 'Deployment', name, rules.subdomain) + namespaced + selectsTemplate {
    local deploy = self,
    spec: {
      replicas: 1,
      revisionHistoryLimit: 10,
      // Surge before removing an old pod: capacity never drops during a rollout.
      strategy: {
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
      },
      selector: { matchLabels: deploy.spec.template.metadata.labels },
      template: {
        metadata: { labels: deploy.metadata.labels },
        spec: podSpec('Deployment "%s"' % name),
      },
    },
  },

  StatefulSet(name):: object('apps/v1', 'StatefulSet', name, rules.subdomain) + namespaced + selectsTemplate {
    local sts = self,
    spec: {
      // The governing (usually headless) Service; stacks create one with this name.
      serviceName: sts.metadata.name,
      replicas: 1,
      revisionHistoryLimit: 10,
      updateStrategy: { type: 'RollingUpdate' },
      selector: { matchLabels: sts.spec.template.metadata.labels },
      template: {
        metadata: { labels: sts.metadata.labels },
        spec: podSpec('StatefulSet "%s"' % name),
      },
      volumeClaimTemplates_:: {},
      volumeClaimTemplates: [
        self.volumeClaimTemplates_[k] { metadata+: { name: k } }
        for k in std.objectFields(self.volumeClaimTemplates_)
      ],
    },
  },

  DaemonSet(name):: object('apps/v1', 'DaemonSet', name, rules.subdomain) + namespaced + selectsTemplate {
    local ds = self,
    spec: {
      revisionHistoryLimit: 10,
      updateStrategy: {
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: 1 },
      },
      selector: { matchLabels: ds.spec.template.metadata.labels },
      template: {
        metadata: { labels: ds.metadata.labels },
        spec: podSpec('DaemonSet "%s"' % name),
      },
    },
  },

  Job(name):: object('batch/v1', 'Job', name, rules.subdomain) + namespaced {
    local job = self,
    spec: jobSpec('Job "%s"' % name, job.metadata.labels),
  },

  CronJob(name):: object('batch/v1', 'CronJob', name, rules.subdomain) + namespaced {
    local cron = self,
    spec: {
      schedule: error 'CronJob "%s": spec.schedule is required' % name,
      // Overlapping runs of maintenance jobs are almost never what anyone wants.
      concurrencyPolicy: 'Forbid',
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      jobTemplate: {
        metadata: { labels: cron.metadata.labels },
        spec: jobSpec('CronJob "%s"' % name, cron.metadata.labels),
      },
    },
  },

  Ingress(name):: object('networking.k8s.io/v1', 'Ingress', name, rules.subdomain) + namespaced {
    spec: { rules: [] },

    local what = 'Ingress "%s"' % self.metadata.name,
    local paths = std.flattenArrays([
      if has(r, 'http') && has(r.http, 'paths') then r.http.paths else []
      for r in (if has(self.spec, 'rules') then self.spec.rules else [])
    ]),
    local namesService(p) =
      has(p, 'backend') && has(p.backend, 'service') && has(p.backend.service, 'name')
      && std.isString(p.backend.service.name) && p.backend.service.name != '',
    assert has(self.spec, 'defaultBackend') || (has(self.spec, 'rules') && std.length(self.spec.rules) > 0) :
           '%s: needs spec.rules or spec.defaultBackend' % what,
    assert all(paths, function(p) namesService(p) || (has(p, 'backend') && has(p.backend, 'resource'))) :
           '%s: every rule path must name a backend service (backend.service.name; serviceName is the old v1beta1 form)' % what,
  },

  NetworkPolicy(name):: object('networking.k8s.io/v1', 'NetworkPolicy', name, rules.subdomain) + namespaced {
    spec: {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [],
    },
  },

  PodDisruptionBudget(name):: object('policy/v1', 'PodDisruptionBudget', name, rules.subdomain) + namespaced {
    local pdb = self,
    target_pod:: error 'PodDisruptionBudget "%s": target_pod is required' % name,
    spec: { selector: { matchLabels: pdb.target_pod.metadata.labels } },
    assert has(self.spec, 'minAvailable') != has(self.spec, 'maxUnavailable') :
           'PodDisruptionBudget "%s": set exactly one of spec.minAvailable and spec.maxUnavailable' % self.metadata.name,
  },

  Role(name):: object('rbac.authorization.k8s.io/v1', 'Role', name, rules.rbac, labelled=false) + namespaced {
    rules: [],
  },

  RoleBinding(name):: object('rbac.authorization.k8s.io/v1', 'RoleBinding', name, rules.rbac, labelled=false) + namespaced {
    local binding = self,
    roleRef_:: error 'RoleBinding "%s": roleRef_ is required (a kube.Role or kube.ClusterRole)' % name,
    subjects_:: [],
    roleRef: {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: binding.roleRef_.kind,
      name: binding.roleRef_.metadata.name,
    },
    subjects: [$.Subject(s) for s in binding.subjects_],
    // A RoleBinding can only grant a Role of its own namespace.
    assert self.roleRef_.kind != 'Role' || self.roleRef_.metadata.namespace == self.metadata.namespace :
           'RoleBinding "%s": roleRef_ is a Role in namespace "%s", but the binding is in "%s"' % [
      self.metadata.name,
      self.roleRef_.metadata.namespace,
      self.metadata.namespace,
    ],
    assert std.length(self.subjects) > 0 : 'RoleBinding "%s": binds no subjects (set subjects_)' % self.metadata.name,
  },

  PersistentVolumeClaim(name):: object('v1', 'PersistentVolumeClaim', name, rules.subdomain) + namespaced {
    local pvc = self,
    storage:: error 'PersistentVolumeClaim "%s": storage is required (a quantity string like "10Gi")' % name,
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: pvc.storage } },
    },
    assert std.isString(self.spec.resources.requests.storage) :
           'PersistentVolumeClaim "%s": storage must be a quantity string like "10Gi"' % self.metadata.name,
  },

  HorizontalPodAutoscaler(name):: object('autoscaling/v2', 'HorizontalPodAutoscaler', name, rules.subdomain) + namespaced {
    local hpa = self,
    target:: error 'HorizontalPodAutoscaler "%s": target is required (the Deployment or StatefulSet to scale)' % name,
    spec: {
      scaleTargetRef: $.CrossVersionObjectReference(hpa.target),
      minReplicas: 1,
      maxReplicas: error 'HorizontalPodAutoscaler "%s": spec.maxReplicas is required' % name,
      metrics: [{
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
      }],
    },
    assert self.spec.minReplicas <= self.spec.maxReplicas :
           'HorizontalPodAutoscaler "%s": spec.minReplicas is above spec.maxReplicas' % self.metadata.name,
  },

  // ---- building blocks ----

  Container(name):: {
    name: name,
    image: error 'Container "%s": image is required' % name,
    imagePullPolicy: 'IfNotPresent',
    ports_:: {},
    ports: namedList('Container "%s" ports_' % name, self.ports_),
    env_:: {},
    env: envList(self.env_),
    volumeMounts_:: {},
    volumeMounts: namedList('Container "%s" volumeMounts_' % name, self.volumeMounts_),
    resources: {},
    securityContext: restrictedSecurityContext,

    local what = 'Container "%s"' % self.name,
    local badPorts = [p for p in self.ports if !(has(p, 'containerPort') && validate.port(p.containerPort))],
    local badPortNames = [p.name for p in self.ports if has(p, 'name') && !validate.portName(p.name)],
    local badEnv = [
      e.name
      for e in self.env
      if !(has(e, 'valueFrom') || (has(e, 'value') && std.isString(e.value)))
    ],
    assert validate.dns1123Label(self.name) : '%s: name must be %s' % [what, rules.label.says],
    assert validate.imagePinned(self.image) :
           '%s: image "%s" must be pinned to a version tag or digest (not latest)' % [what, self.image],
    assert badPorts == [] : '%s: containerPort must be an integer in 1..65535, got %s' % [what, std.toString(badPorts)],
    assert badPortNames == [] :
           '%s: port name "%s" must be an IANA service name (at most 15 lowercase letters, digits or "-")' % [what, badPortNames[0]],
    assert badEnv == [] :
           '%s: env var %s must be a string (quote it) or use valueFrom (kube.SecretKeyRef, kube.FieldRef)' % [what, badEnv[0]],
  },

  // A kube.List is what each cluster file evaluates to: items_ holds a stack, whose
  // visible fields are the objects; its hidden fields (parameters) are left out.
  List():: {
    apiVersion: 'v1',
    kind: 'List',
    items_:: {},
    items: [self.items_[k] for k in std.objectFields(self.items_)],

    local notObjects = [
      k
      for k in std.objectFields(self.items_)
      if !(has(self.items_[k], 'apiVersion') && has(self.items_[k], 'kind'))
    ],
    local ids = [
      local o = self.items_[k];
      '%s/%s/%s' % [o.kind, if has(o.metadata, 'namespace') then o.metadata.namespace else '', o.metadata.name]
      for k in std.objectFields(self.items_)
    ],
    assert notObjects == [] :
           'List: items_.%s is not a Kubernetes object (a stack parameter written with ":" instead of "::"?)' % notObjects[0],
    assert notObjects != [] || std.length(std.set(ids)) == std.length(ids) :
           'List: two items are the same object (kind/namespace/name): %s' % std.toString(ids),
  },

  Subject(s):: if has(s, 'kind') && s.kind == 'ServiceAccount' && has(s, 'metadata') then {
    kind: 'ServiceAccount',
    name: s.metadata.name,
    namespace: s.metadata.namespace,
  } else s,

  ServicePort(port, targetPort):: { port: port, targetPort: targetPort },

  IngressBackend(service, port):: {
    service: {
      name: nameOf(service),
      port: if std.isNumber(port) then { number: port } else { name: port },
    },
  },

  IngressRule(host, service, port, path='/'):: {
    host: host,
    http: {
      paths: [{ path: path, pathType: 'Prefix', backend: $.IngressBackend(service, port) }],
    },
  },

  CrossVersionObjectReference(target):: {
    apiVersion: target.apiVersion,
    kind: target.kind,
    name: target.metadata.name,
  },

  // Volumes (values for volumes_).
  ConfigMapVolume(configmap):: { configMap: { name: nameOf(configmap) } },
  SecretVolume(secret):: { secret: { secretName: nameOf(secret) } },
  EmptyDirVolume(sizeLimit=null):: { emptyDir: if sizeLimit == null then {} else { sizeLimit: sizeLimit } },
  HostPathVolume(path, type=''):: { hostPath: { path: path } + (if type == '' then {} else { type: type }) },
  PersistentVolumeClaimVolume(pvc):: { persistentVolumeClaim: { claimName: nameOf(pvc) } },

  // A claim inside a StatefulSet's volumeClaimTemplates_ (no namespace: the pod's).
  VolumeClaimTemplate(storage):: {
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: storage } },
    },
  },

  // env_ values that are not literal strings.
  SecretKeyRef(secret, key):: { valueFrom: { secretKeyRef: { name: nameOf(secret), key: key } } },
  ConfigMapKeyRef(configmap, key):: { valueFrom: { configMapKeyRef: { name: nameOf(configmap), key: key } } },
  FieldRef(path):: { valueFrom: { fieldRef: { fieldPath: path } } },
}
