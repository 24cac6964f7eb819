//! Generates synthetic infrastructure repositories (clusters × stacks) built on our own
//! `lib/kube.libsonnet`, so the benchmark measures the gate on the kind of jsonnet it gates.

use std::fs;
use std::path::Path;

/// The clusters of a synthetic repository, in rollout order.
pub(crate) const CLUSTERS: [&str; 3] = ["dev", "int", "web"];

/// Stacks share a namespace per team of this many.
const STACKS_PER_TEAM: usize = 50;

/// Writes a repository with `stacks` stacks in `common/`, each assembled by an entry in
/// every cluster, plus one namespaces entry per cluster. Copies `lib/` from `library`.
// Each benchmark uses one of the two.
#[allow(dead_code)]
pub(crate) fn generate(root: &Path, library: &Path, stacks: usize) -> std::io::Result<()> {
    generate_with(root, library, stacks, false)
}

/// As [`generate`], with containers whose security context passes the Pod Security
/// Standards' restricted level (non-root, no privilege escalation, every capability dropped,
/// the runtime's seccomp profile), as a production tree's would.
// Each benchmark uses one of the two.
#[allow(dead_code)]
pub(crate) fn generate_restricted(
    root: &Path,
    library: &Path,
    stacks: usize,
) -> std::io::Result<()> {
    generate_with(root, library, stacks, true)
}

fn generate_with(
    root: &Path,
    library: &Path,
    stacks: usize,
    restricted: bool,
) -> std::io::Result<()> {
    fs::create_dir_all(root.join("lib"))?;
    for entry in fs::read_dir(library)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs::copy(entry.path(), root.join("lib").join(entry.file_name()))?;
        }
    }
    let mut config = String::from("# A synthetic repository written by benches/synthetic.rs.\n");
    for cluster in CLUSTERS {
        config.push_str(&format!("\n[[cluster]]\nname = \"{cluster}\"\n"));
    }
    fs::write(root.join("policyrun.toml"), config)?;

    fs::create_dir_all(root.join("common"))?;
    for i in 0..stacks {
        fs::write(
            root.join(format!("common/app-{i:04}.jsonnet")),
            stack(i, restricted),
        )?;
    }
    let teams = stacks.div_ceil(STACKS_PER_TEAM);
    for (position, cluster) in CLUSTERS.iter().enumerate() {
        let dir = root.join("clusters").join(cluster);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join("namespaces.jsonnet"), namespaces(teams))?;
        for i in 0..stacks {
            fs::write(
                dir.join(format!("app-{i:04}.jsonnet")),
                entry(i, cluster, position + 1),
            )?;
        }
    }
    Ok(())
}

fn team(i: usize) -> String {
    format!("team-{:03}", i / STACKS_PER_TEAM)
}

fn stack(i: usize, restricted: bool) -> String {
    let security = if restricted {
        "\n              securityContext: {\n                allowPrivilegeEscalation: false,\n                capabilities: { drop: ['ALL'] },\n                runAsNonRoot: true,\n                seccompProfile: { type: 'RuntimeDefault' },\n              },"
    } else {
        ""
    };
    format!(
        r#"// Synthetic stack {i}: a web service with its configuration, service and ingress.
local kube = import 'kube.libsonnet';

{{
  namespace:: error 'namespace required',
  replicas:: 1,
  host:: error 'host required',

  config: kube.ConfigMap('app-{i:04}') {{
    metadata+: {{ namespace: $.namespace }},
    data+: {{ 'app.conf': 'id = {i}\nworkers = 4\n' }},
  }},

  deploy: kube.Deployment('app-{i:04}') {{
    metadata+: {{ namespace: $.namespace }},
    spec+: {{
      replicas: $.replicas,
      template+: {{
        spec+: {{
          containers_+: {{
            app: kube.Container('app') {{
              image: 'registry.example.com/app-{i:04}:1.{minor}.0',
              ports_+: {{ http: {{ containerPort: 8080 }} }},
              env_+: {{ APP_ID: '{i}', POD_NAME: kube.FieldRef('metadata.name') }},
              resources: {{
                requests: {{ cpu: '100m', memory: '128Mi' }},
                limits: {{ cpu: '500m', memory: '256Mi' }},
              }},
              readinessProbe: {{ httpGet: {{ path: '/healthz', port: 'http' }} }},
              volumeMounts_+: {{ config: {{ mountPath: '/etc/app', readOnly: true }} }},{security}
            }},
          }},
          volumes_+: {{ config: kube.ConfigMapVolume($.config) }},
        }},
      }},
    }},
  }},

  svc: kube.Service('app-{i:04}') {{
    metadata+: {{ namespace: $.namespace }},
    target_pod: $.deploy.spec.template,
    port: 80,
  }},

  ingress: kube.Ingress('app-{i:04}') {{
    metadata+: {{ namespace: $.namespace }},
    spec+: {{
      tls: [{{ hosts: [$.host], secretName: 'app-{i:04}-tls' }}],
      rules: [kube.IngressRule($.host, $.svc, 80)],
    }},
  }},
}}
"#,
        minor = i % 10
    )
}

fn entry(i: usize, cluster: &str, replicas: usize) -> String {
    format!(
        r#"// Stack {i} in this cluster.
local app = import '../../common/app-{i:04}.jsonnet';
local kube = import 'kube.libsonnet';

kube.List() {{
  items_+: app {{
    namespace:: '{team}',
    replicas:: {replicas},
    host:: 'app-{i:04}.{cluster}.example.com',
  }},
}}
"#,
        team = team(i)
    )
}

fn namespaces(teams: usize) -> String {
    let mut items = String::new();
    for t in 0..teams {
        items.push_str(&format!(
            "    'team-{t:03}': kube.Namespace('team-{t:03}'),\n"
        ));
    }
    format!(
        "// The teams' namespaces.\nlocal kube = import 'kube.libsonnet';\n\nkube.List() {{\n  items_+: {{\n{items}  }},\n}}\n"
    )
}

/// Copies this repository's policy packs (`policies/`, tests and waivers included) into the
/// corpus at `root/policies`.
#[allow(dead_code)]
pub(crate) fn copy_policy_packs(root: &Path) {
    let packs = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    for entry in walkdir::WalkDir::new(&packs) {
        let entry = entry.expect("the packs");
        let target = root
            .join("policies")
            .join(entry.path().strip_prefix(&packs).expect("inside"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("a directory");
        } else {
            std::fs::copy(entry.path(), &target).expect("a pack file");
        }
    }
}
