//! The rollout's use of the Kubernetes API against the test API server (`support/apiserver`):
//! a client from a kubeconfig context, and server-side apply through the real kube client
//! over loopback HTTP.

use crate::support;

use std::fs;
use std::path::Path;

use policyrun::apply::kubeapi::{self, ApplyOptions, Resources};
use serde_json::{Value, json};
use support::apiserver::ApiServer;

const TOKEN: &str = "s3cr3t-bearer-token";

/// Resolves the object's kind, then applies it.
async fn apply(
    client: &kube::Client,
    resources: &mut Resources,
    object: &Value,
    options: ApplyOptions,
) -> Result<Value, String> {
    let text = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap();
    resources
        .resolve(client, text("/apiVersion"), text("/kind"))
        .await?;
    kubeapi::apply(client, resources, object, options).await
}

async fn client_for(server: &ApiServer, dir: &tempfile::TempDir) -> kube::Client {
    let path = dir.path().join("kubeconfig");
    fs::write(&path, server.kubeconfig("dev", TOKEN)).unwrap();
    kubeapi::connect("dev", Some(&path)).await.unwrap()
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "app", "labels": {"app": "web"}},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": image}]}}}})
}

#[tokio::test]
async fn server_side_apply_creates_updates_and_bumps_the_generation_on_spec_changes() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let mut resources = Resources::default();

    let applied = apply(
        &client,
        &mut resources,
        &deployment(2, "web:1"),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(applied["metadata"]["generation"], 1);
    // The same spec again: nothing to roll out.
    let again = apply(
        &client,
        &mut resources,
        &deployment(2, "web:1"),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(again["metadata"]["generation"], 1);
    // A new image: a new generation for the controller to observe.
    let changed = apply(
        &client,
        &mut resources,
        &deployment(2, "web:2"),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(changed["metadata"]["generation"], 2);
    let stored = server.get("deployments", Some("app"), "web").unwrap();
    assert_eq!(
        stored["spec"]["template"]["spec"]["containers"][0]["image"],
        "web:2"
    );

    let requests = server.requests();
    let applies: Vec<&String> = requests.iter().filter(|r| r.starts_with("PATCH")).collect();
    assert_eq!(applies.len(), 3);
    assert!(
        applies.iter().all(
            |r| r.contains("/apis/apps/v1/namespaces/app/deployments/web")
                && r.contains("fieldManager=policyrun")
                && !r.contains("force=true")
        ),
        "{applies:?}"
    );
    // Discovery is asked once per group version, not per object.
    assert_eq!(
        requests
            .iter()
            .filter(|r| *r == "GET /apis/apps/v1")
            .count(),
        1,
        "{requests:?}"
    );
}

#[tokio::test]
async fn dry_run_stores_nothing_and_force_is_sent_only_when_asked() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let mut resources = Resources::default();
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "settings", "namespace": "app"}, "data": {"a": "b"}});
    let dry = ApplyOptions {
        dry_run: true,
        force_conflicts: true,
    };
    let answered = apply(&client, &mut resources, &config_map, dry)
        .await
        .unwrap();
    assert_eq!(answered["data"]["a"], "b");
    assert!(server.get("configmaps", Some("app"), "settings").is_none());
    let requests = server.requests();
    let patch = requests.iter().find(|r| r.starts_with("PATCH")).unwrap();
    assert!(
        patch.contains("dryRun=All") && patch.contains("force=true"),
        "{patch}"
    );

    // Cluster-scoped objects go to the cluster-wide path.
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}});
    apply(&client, &mut resources, &namespace, ApplyOptions::default())
        .await
        .unwrap();
    assert!(server.get("namespaces", None, "app").is_some());
}

#[tokio::test]
async fn refusals_name_the_object_and_never_the_token() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let mut resources = Resources::default();
    let unknown =
        json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}});
    let error = apply(&client, &mut resources, &unknown, ApplyOptions::default())
        .await
        .unwrap_err();
    assert!(
        error.contains("example.com/v1 Gadget is not served"),
        "{error}"
    );
    let no_namespace = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    let error = apply(
        &client,
        &mut resources,
        &no_namespace,
        ApplyOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(error.contains("ConfigMap c is namespaced"), "{error}");

    // A context the kubeconfig does not have.
    let path = dir.path().join("kubeconfig");
    let error = kubeapi::connect("prod", Some(&path)).await.err().unwrap();
    assert!(error.contains("`prod`"), "{error}");
    assert!(!error.contains(TOKEN), "{error}");
    let error = kubeapi::connect("dev", Some(&dir.path().join("missing")))
        .await
        .err()
        .unwrap();
    assert!(error.contains("cannot read the kubeconfig"), "{error}");
}

// ---- one stage ---------------------------------------------------------------------------

use std::sync::Arc;
use std::time::Duration;

use policyrun::apply::Cancel;
use policyrun::apply::stage::{self, Desired, StageOptions};
use policyrun::model::events::Unseen;
use policyrun::model::outcome::{ObjectId, Outcome, Status};

fn desired(value: Value) -> Desired {
    let text = |p: &str| value.pointer(p).and_then(Value::as_str).map(str::to_owned);
    Desired {
        id: Arc::new(ObjectId {
            cluster: "dev".into(),
            entry: "clusters/dev/app.jsonnet".into(),
            item: None,
            api_version: text("/apiVersion").unwrap(),
            kind: text("/kind").unwrap(),
            namespace: text("/metadata/namespace"),
            name: text("/metadata/name").unwrap(),
        }),
        file: "generated/dev/app/x.json".into(),
        value,
    }
}

fn with_fault(mut object: Value, fault: &str) -> Value {
    object["metadata"]["annotations"] = json!({"test.policyrun.io/fault": fault});
    object
}

fn workloads() -> Vec<Value> {
    let template = json!({"metadata": {"labels": {"app": "x"}},
                          "spec": {"containers": [{"name": "x", "image": "x:1"}]}});
    vec![
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "app"},
               "spec": {"template": template}}),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "app"},
               "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "x"}}, "template": template}}),
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "app"},
               "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": template}}),
        deployment(3, "web:1"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "app"}, "data": {"a": "b"}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}),
    ]
}

fn fast() -> StageOptions {
    StageOptions {
        resource_timeout: Duration::from_secs(10),
        stage_timeout: Duration::from_secs(20),
        retry: Duration::from_millis(10),
        ..StageOptions::default()
    }
}

fn find<'a>(outcomes: &'a [Outcome], name: &str, check: &str) -> &'a Outcome {
    outcomes
        .iter()
        .find(|o| o.check == check && o.subject.as_deref().is_some_and(|s| s.ends_with(name)))
        .unwrap_or_else(|| panic!("no {check} for {name}: {outcomes:#?}"))
}

#[tokio::test]
async fn a_clean_stage_applies_in_dependency_order_and_waits_for_every_rollout() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let objects = workloads().into_iter().map(desired).collect();
    let result = stage::run(
        &fast(),
        stage::Input {
            client: &client,
            objects,
            cancel: &Cancel::new(),
        },
        &Unseen,
    )
    .await;
    assert!(result.healthy, "{:#?}", result.report.outcomes);
    assert_eq!(
        result.report.outcomes.len(),
        12,
        "applied + ready per object"
    );
    assert!(
        result
            .report
            .outcomes
            .iter()
            .all(|o| o.status == Status::Passed)
    );
    assert!(
        find(&result.report.outcomes, "app/web", "ready")
            .message
            .contains("3 of 3"),
        "{:#?}",
        result.report.outcomes
    );
    // Namespaces before configuration before workloads.
    let patches: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("PATCH"))
        .collect();
    let position = |needle: &str| patches.iter().position(|r| r.contains(needle)).unwrap();
    assert!(position("/namespaces/app?") < position("/configmaps/settings"));
    assert!(position("/configmaps/settings") < position("/deployments/web"));
}

#[tokio::test]
async fn rollouts_that_fail_or_never_finish_make_the_stage_unhealthy() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let mut never = deployment(1, "web:1");
    never["metadata"]["name"] = json!("never");
    let objects = vec![
        desired(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}})),
        desired(with_fault(deployment(2, "web:1"), "progress-deadline")),
        desired(with_fault(never, "never-ready")),
        desired(with_fault(workloads()[0].clone(), "job-fails")),
    ];
    let options = StageOptions {
        resource_timeout: Duration::from_millis(400),
        ..fast()
    };
    let started = std::time::Instant::now();
    let result = stage::run(
        &options,
        stage::Input {
            client: &client,
            objects,
            cancel: &Cancel::new(),
        },
        &Unseen,
    )
    .await;
    assert!(!result.healthy);
    let deadline = find(&result.report.outcomes, "app/web", "ready");
    assert_eq!(deadline.status, Status::Failed);
    assert!(
        deadline.message.contains("ProgressDeadlineExceeded"),
        "{}",
        deadline.message
    );
    let job = find(&result.report.outcomes, "app/migrate", "ready");
    assert!(
        job.message.contains("BackoffLimitExceeded"),
        "{}",
        job.message
    );
    let never = find(&result.report.outcomes, "app/never", "ready");
    assert!(
        never.message.starts_with("not ready after"),
        "{}",
        never.message
    );
    assert!(never.message.contains("(timeout)"), "{}", never.message);
    // What the pods and events say comes with the failure.
    assert!(
        never.message.contains(
            "pod never-5d8f9c-x7k2p: container web waiting: ImagePullBackOff (Back-off pulling image \"web:1\")"
        ),
        "{}",
        never.message
    );
    assert!(
        job.message
            .contains("last event: Warning BackoffLimitExceeded: Job has reached"),
        "{}",
        job.message
    );
    // Failures are reported at once; only the stuck object waits for its timeout.
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_stage_timeout_ends_every_wait_that_the_resource_timeout_would_not() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let mut other = deployment(1, "web:1");
    other["metadata"]["name"] = json!("other");
    let objects = vec![
        desired(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}})),
        desired(with_fault(deployment(1, "web:1"), "never-ready")),
        desired(with_fault(other, "never-ready")),
    ];
    let options = StageOptions {
        resource_timeout: Duration::from_secs(60),
        stage_timeout: Duration::from_millis(500),
        ..fast()
    };
    let started = std::time::Instant::now();
    let result = stage::run(
        &options,
        stage::Input {
            client: &client,
            objects,
            cancel: &Cancel::new(),
        },
        &Unseen,
    )
    .await;
    assert!(!result.healthy);
    for name in ["app/web", "app/other"] {
        let stuck = find(&result.report.outcomes, name, "ready");
        assert_eq!(stuck.status, Status::Failed);
        assert!(
            stuck.message.contains("(stage timeout)"),
            "{}",
            stuck.message
        );
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn readiness_is_watched_and_a_dropped_watch_is_resumed_where_it_stopped() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let mut slow = deployment(2, "web:1");
    slow["metadata"]["name"] = json!("slow");
    let objects = vec![
        desired(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}})),
        desired(with_fault(deployment(3, "web:1"), "dropped-watch")),
        desired(with_fault(slow, "slow")),
    ];
    // Reading again is held back to every 30 s: only watch events can finish in time.
    let options = StageOptions {
        retry: Duration::from_secs(30),
        ..fast()
    };
    let result = stage::run(
        &options,
        stage::Input {
            client: &client,
            objects,
            cancel: &Cancel::new(),
        },
        &Unseen,
    )
    .await;
    assert!(result.healthy, "{:#?}", result.report.outcomes);
    assert!(
        find(&result.report.outcomes, "app/slow", "ready")
            .message
            .contains("2 of 2"),
        "{:#?}",
        result.report.outcomes
    );
    let requests = server.requests();
    let dropped = server.state.lock().unwrap().dropped_watches;
    assert!(dropped >= 2, "{dropped} watches dropped");
    // Each drop is followed by a watch from the last version seen, not a fresh read.
    let versions: Vec<u64> = requests
        .iter()
        .filter(|r| r.contains("watch=true") && r.contains("metadata.name%3Dweb"))
        .map(|r| {
            r.rsplit_once("resourceVersion=")
                .unwrap()
                .1
                .parse()
                .unwrap()
        })
        .collect();
    assert!(versions.len() >= dropped as usize, "{versions:?}");
    assert!(
        versions[0] > 0 && versions.windows(2).all(|w| w[0] < w[1]),
        "{versions:?}"
    );
    let reads = requests
        .iter()
        .filter(|r| r.starts_with("GET /apis/apps/v1/namespaces/app/deployments/web"))
        .count();
    assert_eq!(reads, 1, "{requests:#?}");
}

#[tokio::test]
async fn where_watching_is_forbidden_the_objects_are_read_again_instead() {
    let server = ApiServer::start().await;
    server.state.lock().unwrap().refuse_watches = true;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let objects = workloads().into_iter().map(desired).collect();
    let result = stage::run(
        &fast(),
        stage::Input {
            client: &client,
            objects,
            cancel: &Cancel::new(),
        },
        &Unseen,
    )
    .await;
    assert!(result.healthy, "{:#?}", result.report.outcomes);
    let reads = server
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /apis/apps/v1/namespaces/app/deployments/web"))
        .count();
    assert!(reads >= 2, "read {reads} times");
}

#[tokio::test]
async fn a_watch_from_a_version_the_server_no_longer_keeps_starts_over_from_a_fresh_read() {
    let server = ApiServer::start().await;
    // Only the latest change is kept, so a watch from any earlier version is `410 Gone`.
    server.state.lock().unwrap().history = 1;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let objects = workloads().into_iter().map(desired).collect();
    let result = stage::run(
        &fast(),
        stage::Input {
            client: &client,
            objects,
            cancel: &Cancel::new(),
        },
        &Unseen,
    )
    .await;
    assert!(result.healthy, "{:#?}", result.report.outcomes);
    let expired = server.state.lock().unwrap().expired_watches;
    assert!(expired >= 1, "no watch expired");
    let reads = server
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /apis/apps/v1/namespaces/app/deployments/web"))
        .count();
    assert!(reads >= 2, "an expired watch is followed by a fresh read");
}

#[tokio::test]
async fn a_refused_apply_stops_the_groups_that_depend_on_it() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let objects = vec![
        desired(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}})),
        desired(with_fault(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "app"}}),
            "forbidden",
        )),
        desired(deployment(1, "web:1")),
    ];
    let result = stage::run(
        &fast(),
        stage::Input {
            client: &client,
            objects,
            cancel: &Cancel::new(),
        },
        &Unseen,
    )
    .await;
    assert!(!result.healthy);
    let refused = find(&result.report.outcomes, "app/settings", "applied");
    assert_eq!(refused.status, Status::Failed);
    assert!(
        refused.message.contains("Forbidden (403)"),
        "{}",
        refused.message
    );
    assert_eq!(
        find(&result.report.outcomes, "app/web", "applied").status,
        Status::Skipped
    );
    assert!(server.get("deployments", Some("app"), "web").is_none());
}

#[tokio::test]
async fn a_dry_run_stage_changes_nothing() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let objects = workloads().into_iter().map(desired).collect();
    let options = StageOptions {
        apply: ApplyOptions {
            dry_run: true,
            force_conflicts: false,
        },
        ..fast()
    };
    let result = stage::run(
        &options,
        stage::Input {
            client: &client,
            objects,
            cancel: &Cancel::new(),
        },
        &Unseen,
    )
    .await;
    assert!(result.healthy, "{:#?}", result.report.outcomes);
    assert_eq!(result.report.outcomes.len(), 6, "applied only");
    assert!(server.state.lock().unwrap().objects.is_empty());
    assert!(
        server
            .requests()
            .iter()
            .filter(|r| r.starts_with("PATCH"))
            .all(|r| r.contains("dryRun=All"))
    );
}

// ---- `policyrun apply`, the binary -------------------------------------------------------

async fn three_clusters(dir: &Path) -> ([ApiServer; 3], std::path::PathBuf) {
    support::apiserver::three_clusters(dir, TOKEN).await
}

use support::policyrun_async;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_three_stage_rollout_applies_every_cluster_in_order() {
    let repo = support::fixture("apply-basic");
    let (servers, kubeconfig) = three_clusters(repo.path()).await;
    let junit = repo.path().join("apply.xml");
    let run = policyrun_async(
        repo.path(),
        &[
            "apply",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for (server, cluster) in servers.iter().zip(["dev", "int", "web"]) {
        let settings = server.get("configmaps", Some("app"), "settings").unwrap();
        assert_eq!(settings["data"]["cluster"], cluster);
        let web = server.get("deployments", Some("app"), "web").unwrap();
        assert_eq!(
            web["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "policyrun"
        );
        let owner = web["metadata"]["annotations"]["policyrun.io/owner"]
            .as_str()
            .unwrap();
        assert!(
            owner.ends_with(&format!("/{cluster}/clusters/{cluster}/app.jsonnet")),
            "{owner}"
        );
    }
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN));
    let xml = fs::read_to_string(&junit).unwrap();
    support::assert_valid_junit(&xml);
    assert!(xml.contains("policyrun.web.apply"), "{xml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubeconfig_that_is_not_there_is_a_usage_error() {
    let repo = support::fixture("apply-basic");
    for command in ["apply", "diff"] {
        let run = policyrun_async(
            repo.path(),
            &[command, "--kubeconfig", "nowhere/kubeconfig"],
        )
        .await;
        assert_eq!(run.code, 2, "{command}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr
                .contains("--kubeconfig nowhere/kubeconfig: no such file"),
            "{}",
            run.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_stage_that_never_becomes_ready_stops_int_and_web() {
    let repo = support::fixture("apply-basic");
    let config = fs::read_to_string(repo.path().join("policyrun.toml")).unwrap();
    fs::write(
        repo.path().join("policyrun.toml"),
        config.replace(
            "name = \"dev\"\n",
            "name = \"dev\"\n[cluster.ext_vars]\nfault = \"never-ready\"\n",
        ),
    )
    .unwrap();
    let expand = policyrun_async(repo.path(), &["expand"]).await;
    assert_eq!(expand.code, 0, "{}", expand.stdout);
    let (servers, kubeconfig) = three_clusters(repo.path()).await;
    let run = policyrun_async(
        repo.path(),
        &[
            "apply",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--timeout",
            "1",
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("not ready after"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("not applied: cluster dev did not become healthy"),
        "{}",
        run.stdout
    );
    // Outside a terminal, progress is plain lines on standard error.
    assert!(
        run.stderr
            .contains("dev: waiting for 4 objects to become ready"),
        "{}",
        run.stderr
    );
    assert!(servers[0].writes() > 0);
    assert_eq!(servers[1].writes(), 0, "int is never touched");
    assert_eq!(servers[2].writes(), 0, "web is never touched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_tree_is_refused_before_any_request_and_until_stops_early() {
    let repo = support::fixture("apply-basic");
    let (servers, kubeconfig) = three_clusters(repo.path()).await;
    let kubeconfig = kubeconfig.to_str().unwrap().to_owned();
    // --until dev: only dev is applied.
    let run = policyrun_async(
        repo.path(),
        &["apply", "--kubeconfig", &kubeconfig, "--until", "dev"],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(servers[0].writes() > 0);
    assert_eq!(servers[1].writes() + servers[2].writes(), 0);
    // A source change not committed: the gate fails, nothing is applied.
    let before = servers[0].writes();
    let library = repo.path().join("common/app.libsonnet");
    let text = fs::read_to_string(&library).unwrap();
    fs::write(&library, text.replace("replicas: 2", "replicas: 3")).unwrap();
    let run = policyrun_async(repo.path(), &["apply", "--kubeconfig", &kubeconfig]).await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("refusing to apply"), "{}", run.stdout);
    assert_eq!(servers[0].writes(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_come_from_the_cluster_then_the_apply_table_then_the_command_line() {
    let repo = support::fixture("apply-basic");
    let config = fs::read_to_string(repo.path().join("policyrun.toml")).unwrap();
    // dev never becomes ready; its own table gives it one second (the default is 300).
    let config = config.replace(
        "name = \"dev\"\n",
        "name = \"dev\"\n[cluster.ext_vars]\nfault = \"never-ready\"\n[cluster.apply]\ntimeout = 1\n",
    );
    fs::write(
        repo.path().join("policyrun.toml"),
        format!("{config}\n[apply]\nstage_timeout = 600\n"),
    )
    .unwrap();
    assert_eq!(policyrun_async(repo.path(), &["expand"]).await.code, 0);
    let (_servers, kubeconfig) = three_clusters(repo.path()).await;
    let started = std::time::Instant::now();
    let run = policyrun_async(
        repo.path(),
        &[
            "apply",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--until",
            "dev",
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("not ready after 1s (timeout)"),
        "{}",
        run.stdout
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));

    let bad = fs::read_to_string(repo.path().join("policyrun.toml"))
        .unwrap()
        .replace("timeout = 1\n", "timeout = 0\n");
    fs::write(repo.path().join("policyrun.toml"), bad).unwrap();
    let run = policyrun_async(
        repo.path(),
        &["apply", "--kubeconfig", kubeconfig.to_str().unwrap()],
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cluster[0].apply.timeout"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn transient_failures_are_retried_and_refusals_are_not() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let mut resources = Resources::default();
    let config_map = |name: &str, fault: &str| {
        with_fault(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "app"}}),
            fault,
        )
    };
    for (name, fault) in [("flaky", "flaky"), ("throttled", "throttled")] {
        apply(
            &client,
            &mut resources,
            &config_map(name, fault),
            ApplyOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{fault}: {e}"));
        assert!(server.get("configmaps", Some("app"), name).is_some());
        let tries = server
            .requests()
            .iter()
            .filter(|r| r.starts_with("PATCH") && r.contains(&format!("/configmaps/{name}?")))
            .count();
        assert_eq!(tries, 3, "{fault}: two failures, then success");
    }
    let error = apply(
        &client,
        &mut resources,
        &config_map("denied", "forbidden"),
        ApplyOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(error.contains("Forbidden (403)"), "{error}");
    let tries = server
        .requests()
        .iter()
        .filter(|r| r.starts_with("PATCH") && r.contains("/configmaps/denied?"))
        .count();
    assert_eq!(tries, 1, "a refusal is final");
    // A validation failure reaches the report in the server's words.
    let error = apply(
        &client,
        &mut resources,
        &config_map("bad", "invalid"),
        ApplyOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        error.contains("Invalid (422)") && error.contains("spec.replicas"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_retried_then_reported() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: dev\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: {TOKEN}\n"
        ),
    )
    .unwrap();
    let client = kubeapi::connect("dev", Some(&path)).await.unwrap();
    let started = std::time::Instant::now();
    let mut resources = Resources::default();
    let error = resources
        .resolve(&client, "v1", "ConfigMap")
        .await
        .unwrap_err();
    assert!(!error.contains(TOKEN), "{error}");
    let objects = vec![desired(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}),
    )];
    let result = stage::run(
        &fast(),
        stage::Input {
            client: &client,
            objects,
            cancel: &Cancel::new(),
        },
        &Unseen,
    )
    .await;
    assert!(!result.healthy);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_shows_what_apply_would_change_with_secret_values_hidden() {
    let repo = support::fixture("apply-basic");
    let (_servers, kubeconfig) = three_clusters(repo.path()).await;
    let kubeconfig = kubeconfig.to_str().unwrap().to_owned();
    let diff = |repo: &Path| {
        let repo = repo.to_path_buf();
        let kubeconfig = kubeconfig.clone();
        async move {
            policyrun_async(
                &repo,
                &[
                    "diff",
                    "--cluster",
                    "dev",
                    "--kubeconfig",
                    &kubeconfig,
                    "-v",
                ],
            )
            .await
        }
    };
    // Nothing applied yet: everything would be created.
    let run = diff(repo.path()).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("would be created"), "{}", run.stdout);
    assert!(!run.stdout.contains("aHVudGVyMg=="), "{}", run.stdout);
    // Applied: no changes.
    let applied = policyrun_async(
        repo.path(),
        &["apply", "--kubeconfig", &kubeconfig, "--until", "dev"],
    )
    .await;
    assert_eq!(applied.code, 0, "{}", applied.stdout);
    let run = diff(repo.path()).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // A changed setting and a changed password: shown, the password hidden.
    let library = repo.path().join("common/app.libsonnet");
    let text = fs::read_to_string(&library).unwrap();
    fs::write(
        &library,
        text.replace("std.base64('hunter2')", "std.base64('s3cond')")
            .replace("replicas: 2", "replicas: 4"),
    )
    .unwrap();
    assert_eq!(policyrun_async(repo.path(), &["expand"]).await.code, 0);
    let run = diff(repo.path()).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("+    \"replicas\": 4")
            && run.stdout.contains("policyrun diff: CHANGES"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("would change (hidden): data.password"),
        "{}",
        run.stdout
    );
    for secret in ["aHVudGVyMg==", "czNjb25k", "hunter2", "s3cond"] {
        assert!(!run.stdout.contains(secret), "{}", run.stdout);
    }
    // A source that does not evaluate: what applying would change cannot be told, exit 2
    // (`kubectl diff`'s code for anything but "changes").
    fs::write(&library, "{ broken: ").unwrap();
    let run = diff(repo.path()).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_only_what_it_applied_for_this_cluster_and_never_namespaces() {
    let repo = support::fixture("apply-basic");
    let (servers, kubeconfig) = three_clusters(repo.path()).await;
    let kubeconfig = kubeconfig.to_str().unwrap().to_owned();
    let apply = |args: &'static [&'static str]| {
        let repo = repo.path().to_path_buf();
        let kubeconfig = kubeconfig.clone();
        async move {
            let mut all = vec![
                "apply",
                "--kubeconfig",
                kubeconfig.as_str(),
                "--until",
                "dev",
            ];
            all.extend_from_slice(args);
            policyrun_async(&repo, &all).await
        }
    };
    assert_eq!(apply(&[]).await.code, 0);
    let dev = &servers[0];
    let owner = dev.get("configmaps", Some("app"), "settings").unwrap()["metadata"]["annotations"]
        ["policyrun.io/owner"]
        .as_str()
        .unwrap()
        .to_owned();
    // Objects pruning must leave alone: a label without ownership, another cluster's.
    dev.put(
        "",
        "configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "inherited", "namespace": "app",
                            "labels": {"app.kubernetes.io/managed-by": "policyrun"}}}),
    );
    dev.put(
        "",
        "configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "from-web", "namespace": "app",
                            "labels": {"app.kubernetes.io/managed-by": "policyrun"},
                            "annotations": {"policyrun.io/owner": owner.replace("/dev/", "/web/")}}}),
    );
    // The tree drops its ConfigMap and its Namespace.
    let library = repo.path().join("common/app.libsonnet");
    let text = fs::read_to_string(&library).unwrap();
    let start = text.find("    ns: {").unwrap();
    let end = text.find("    creds: {").unwrap();
    fs::write(&library, format!("{}{}", &text[..start], &text[end..])).unwrap();
    assert_eq!(policyrun_async(repo.path(), &["expand"]).await.code, 0);

    // Without --prune nothing is deleted.
    assert_eq!(apply(&[]).await.code, 0);
    assert!(dev.get("configmaps", Some("app"), "settings").is_some());
    // A dry run names what would go.
    let run = apply(&["--prune", "--dry-run", "-v"]).await;
    assert!(run.stdout.contains("would be pruned"), "{}", run.stdout);
    assert!(dev.get("configmaps", Some("app"), "settings").is_some());
    // --prune: ours goes; the others and the Namespace stay.
    let run = apply(&["--prune", "-v"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        dev.get("configmaps", Some("app"), "settings").is_none(),
        "{}",
        run.stdout
    );
    assert!(dev.get("configmaps", Some("app"), "inherited").is_some());
    assert!(dev.get("configmaps", Some("app"), "from-web").is_some());
    assert!(dev.get("namespaces", None, "app").is_some());
    assert!(
        run.stdout.contains("never pruned automatically"),
        "{}",
        run.stdout
    );
    assert!(dev.get("deployments", Some("app"), "web").is_some());
}

// ---- names that are URL syntax (issue 26, item 1) ----------------------------------------

/// RBAC objects take path-segment names, which may hold `#`, `?`, `&`, `;`, `,` and `=`:
/// the gate accepts them, as the API server does.
const RBAC_ENTRY: &str = r#"{
  items_: {
    fragment: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'cluster-admin#x' },
      rules: [],
    },
    query: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'cluster-admin?force=true&fieldManager=evil&' },
      rules: [],
    },
    selector: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'viewer;x,metadata.name=admin', namespace: 'app' },
      rules: [],
    },
  },
}
"#;

const CLUSTERROLES: &str = "/apis/rbac.authorization.k8s.io/v1/clusterroles/";

/// The cluster's own `cluster-admin`, which no request about the objects above may reach.
fn cluster_admin() -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
           "metadata": {"name": "cluster-admin"},
           "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]})
}

/// The query parameters of a recorded request, decoded.
fn query_of(request: &str) -> Vec<(String, String)> {
    let query = request.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                support::apiserver::percent_decode(k, true),
                support::apiserver::percent_decode(v, true),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_are_url_syntax_reach_the_api_server_as_one_encoded_path_segment() {
    let repo = support::fixture("apply-basic");
    fs::write(repo.path().join("clusters/dev/rbac.jsonnet"), RBAC_ENTRY).unwrap();
    assert_eq!(policyrun_async(repo.path(), &["expand"]).await.code, 0);
    let (servers, kubeconfig) = three_clusters(repo.path()).await;
    let kubeconfig = kubeconfig.to_str().unwrap();
    let dev = &servers[0];
    dev.put("rbac.authorization.k8s.io", "clusterroles", cluster_admin());

    let run = policyrun_async(
        repo.path(),
        &[
            "apply",
            "--dry-run",
            "--until",
            "dev",
            "--kubeconfig",
            kubeconfig,
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = policyrun_async(
        repo.path(),
        &["diff", "--cluster", "dev", "--kubeconfig", kubeconfig, "-v"],
    )
    .await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    // The diff compares each object with itself (absent), never with cluster-admin.
    assert!(!run.stdout.contains("\"*\""), "{}", run.stdout);

    let requests = dev.requests();
    let shown = requests.join("\n");
    for (segment, path) in [
        ("cluster-admin%23x", CLUSTERROLES),
        (
            "cluster-admin%3Fforce%3Dtrue%26fieldManager%3Devil%26",
            CLUSTERROLES,
        ),
        (
            "viewer%3Bx%2Cmetadata.name%3Dadmin",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/app/roles/",
        ),
    ] {
        let target = format!("{path}{segment}");
        // Applied twice as a server-side dry run (apply --dry-run, then diff), each time
        // with our field manager and nothing else forced.
        let patches: Vec<&String> = requests
            .iter()
            .filter(|r| r.starts_with(&format!("PATCH {target}?")))
            .collect();
        assert_eq!(patches.len(), 2, "{target}:\n{shown}");
        for patch in patches {
            let query = query_of(patch);
            assert!(query.contains(&("dryRun".into(), "All".into())), "{patch}");
            let managers: Vec<&(String, String)> =
                query.iter().filter(|(k, _)| k == "fieldManager").collect();
            assert_eq!(
                managers,
                [&("fieldManager".into(), "policyrun".into())],
                "{patch}"
            );
            assert!(!query.iter().any(|(k, _)| k == "force"), "{patch}");
        }
        // diff reads the live object at the same path.
        assert!(
            requests.contains(&format!("GET {target}")),
            "{target}:\n{shown}"
        );
    }
    // Nothing reached cluster-admin itself, which is as it was.
    let admin = format!("{CLUSTERROLES}cluster-admin");
    assert!(
        !requests
            .iter()
            .any(|r| r.ends_with(&admin) || r.contains(&format!("{admin}?"))),
        "{shown}"
    );
    assert_eq!(
        dev.get("clusterroles", None, "cluster-admin").unwrap()["rules"],
        cluster_admin()["rules"]
    );
    assert!(dev.get("clusterroles", None, "cluster-admin#x").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_an_object_named_like_a_url_deletes_that_object_and_nothing_else() {
    let repo = support::fixture("apply-basic");
    let (servers, kubeconfig) = three_clusters(repo.path()).await;
    let kubeconfig = kubeconfig.to_str().unwrap();
    let dev = &servers[0];
    let apply = |args: &'static [&'static str]| {
        let repo = repo.path().to_path_buf();
        let kubeconfig = kubeconfig.to_owned();
        async move {
            let mut all = vec!["apply", "--kubeconfig", &kubeconfig, "--until", "dev"];
            all.extend_from_slice(args);
            policyrun_async(&repo, &all).await
        }
    };
    assert_eq!(apply(&[]).await.code, 0);
    let owner = dev.get("configmaps", Some("app"), "settings").unwrap()["metadata"]["annotations"]
        ["policyrun.io/owner"]
        .as_str()
        .unwrap()
        .replace("/app.jsonnet", "/rbac.jsonnet");
    // cluster-admin, and what an earlier rollout left: the tree no longer holds it.
    dev.put("rbac.authorization.k8s.io", "clusterroles", cluster_admin());
    let mut left = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "cluster-admin#x",
                     "labels": {"app.kubernetes.io/managed-by": "policyrun"},
                     "annotations": {"policyrun.io/owner": owner}},
        "rules": []});
    dev.put("rbac.authorization.k8s.io", "clusterroles", left.clone());
    left["metadata"]["name"] = json!("cluster-admin?x=1");
    dev.put("rbac.authorization.k8s.io", "clusterroles", left);

    let run = apply(&["--prune", "-v"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        dev.get("clusterroles", None, "cluster-admin").is_some(),
        "pruning deleted cluster-admin:\n{}",
        dev.requests().join("\n")
    );
    assert!(dev.get("clusterroles", None, "cluster-admin#x").is_none());
    assert!(dev.get("clusterroles", None, "cluster-admin?x=1").is_none());
    let deletes: Vec<String> = dev
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("DELETE"))
        // kube ends a delete's path with an empty query.
        .map(|r| r.trim_end_matches('?').to_owned())
        .collect();
    assert_eq!(
        deletes,
        [
            format!("DELETE {CLUSTERROLES}cluster-admin%23x"),
            format!("DELETE {CLUSTERROLES}cluster-admin%3Fx%3D1"),
        ],
        "{}",
        run.stdout
    );
}

// ---- a server that echoes the credential (issue 26, item 3) --------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_server_that_echoes_the_token_does_not_get_it_into_any_report() {
    // Characters that percent-encoding and Go's JSON encoder both change.
    let token = "kube+tok/en=<A&B>-0123456789";
    let repo = support::fixture("apply-basic");
    let config = fs::read_to_string(repo.path().join("policyrun.toml")).unwrap();
    fs::write(
        repo.path().join("policyrun.toml"),
        config.replace(
            "name = \"dev\"\n",
            "name = \"dev\"\n[cluster.ext_vars]\nfault = \"echo-authorization\"\n",
        ),
    )
    .unwrap();
    assert_eq!(policyrun_async(repo.path(), &["expand"]).await.code, 0);
    let (_servers, kubeconfig) = support::apiserver::three_clusters(repo.path(), token).await;
    let junit = repo.path().join("apply.xml");
    let run = policyrun_async(
        repo.path(),
        &[
            "apply",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--until",
            "dev",
            "--output",
            "json",
            "--junit",
            junit.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let xml = fs::read_to_string(&junit).unwrap();
    support::assert_valid_junit(&xml);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let refused = report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["check"] == "applied" && o["subject"] == "Deployment app/web")
        .unwrap();
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.starts_with("Unauthorized (401): Unauthorized: the token in \"<hidden credential>\" is not valid (sent as <hidden credential>)"),
        "{message}"
    );
    let everything = format!("{}\n{}\n{xml}", run.stdout, run.stderr);
    for form in ["kube+tok", "kube%2Btok", "\\u003cA\\u0026B", "0123456789"] {
        assert!(!everything.contains(form), "{form} in:\n{everything}");
    }
}

async fn failed_second_rollout(on_failure: stage::OnFailure) -> (ApiServer, Vec<Outcome>) {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}});
    let first = stage::run(
        &fast(),
        stage::Input {
            client: &client,
            objects: vec![desired(namespace.clone()), desired(deployment(2, "web:1"))],
            cancel: &Cancel::new(),
        },
        &Unseen,
    )
    .await;
    assert!(first.healthy, "{:#?}", first.report.outcomes);
    let options = StageOptions {
        resource_timeout: Duration::from_millis(300),
        on_failure,
        ..fast()
    };
    // The stage changes the image, adds a template annotation and scales to 3.
    let mut changed = with_fault(deployment(3, "web:2"), "never-ready");
    changed["spec"]["template"]["metadata"]["annotations"] = json!({"restarted": "now"});
    let second = stage::run(
        &options,
        stage::Input {
            client: &client,
            objects: vec![desired(namespace), desired(changed)],
            cancel: &Cancel::new(),
        },
        &Unseen,
    )
    .await;
    assert!(!second.healthy);
    (server, second.report.outcomes)
}

#[tokio::test]
async fn on_failure_pause_pauses_the_failed_deployment() {
    let (server, outcomes) = failed_second_rollout(stage::OnFailure::Pause).await;
    let action = find(&outcomes, "app/web", "on-failure");
    assert_eq!(action.status, Status::Passed);
    assert!(action.message.starts_with("paused"), "{}", action.message);
    let live = server.get("deployments", Some("app"), "web").unwrap();
    assert_eq!(live["spec"]["paused"], true);
}

#[tokio::test]
async fn on_failure_undo_puts_the_previous_pod_template_back_and_leaves_the_rest() {
    let (server, outcomes) = failed_second_rollout(stage::OnFailure::Undo).await;
    let action = find(&outcomes, "app/web", "on-failure");
    assert!(
        action.message.contains("rolled back to the pod template"),
        "{}",
        action.message
    );
    let live = server.get("deployments", Some("app"), "web").unwrap();
    // The pod template is the one from before the stage, exactly ...
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"],
        "web:1"
    );
    assert!(
        live["spec"]["template"]["metadata"]
            .get("annotations")
            .is_none(),
        "{live:#}"
    );
    // ... and the rest of the spec is left as it is, as `kubectl rollout undo` does.
    assert_eq!(live["spec"]["replicas"], 3);
    // The default leaves the failed rollout alone.
    let (server, outcomes) = failed_second_rollout(stage::OnFailure::Leave).await;
    assert!(!outcomes.iter().any(|o| o.check == "on-failure"));
    let live = server.get("deployments", Some("app"), "web").unwrap();
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"],
        "web:2"
    );
}

/// Every event, as text, in the order it came.
#[derive(Default)]
struct Recorded(std::sync::Mutex<Vec<String>>);

impl policyrun::model::events::Events for Recorded {
    fn emit(&self, event: policyrun::model::events::Event<'_>) {
        self.0.lock().unwrap().push(format!("{event:?}"));
    }
}

/// The stage writes nothing itself: what it waits on reaches a sink as events, a wait
/// begun, what a log says about it, progress with what is awaited, and its end.
#[tokio::test]
async fn a_stage_reports_what_it_waits_on_as_events() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let mut slow = deployment(2, "web:1");
    slow["metadata"]["name"] = json!("slow");
    let objects = vec![
        desired(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}})),
        desired(with_fault(slow, "slow")),
    ];
    let recorded = Recorded::default();
    let result = stage::run(
        &fast(),
        stage::Input {
            client: &client,
            objects,
            cancel: &Cancel::new(),
        },
        &recorded,
    )
    .await;
    assert!(result.healthy, "{:#?}", result.report.outcomes);
    let events = recorded.0.into_inner().unwrap();
    assert_eq!(
        events[0],
        "Begin { what: \"dev: ready\", total: Some(2), log_every: Some(10s) }"
    );
    assert_eq!(
        events[1],
        "LogLine(\"dev: waiting for 2 objects to become ready\")"
    );
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Progress") && e.contains("waiting on Deployment app/slow (")),
        "{events:#?}"
    );
    assert_eq!(
        events.last().map(String::as_str),
        Some("End"),
        "{events:#?}"
    );
}

/// Cancellation is a value each rollout holds: a stage cancelled while it waits stops, and
/// another stage in the same process, with a cancellation of its own, runs to the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_stage_stops_and_does_not_stop_another() {
    let stuck_server = ApiServer::start().await;
    let stuck_dir = tempfile::tempdir().unwrap();
    let stuck_client = client_for(&stuck_server, &stuck_dir).await;
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}});
    let stuck_cancel = Cancel::new();
    let options = StageOptions {
        resource_timeout: Duration::from_secs(60),
        stage_timeout: Duration::from_secs(60),
        ..fast()
    };
    let started = std::time::Instant::now();
    let stuck = stage::run(
        &options,
        stage::Input {
            client: &stuck_client,
            objects: vec![
                desired(namespace.clone()),
                desired(with_fault(deployment(2, "web:1"), "never-ready")),
            ],
            cancel: &stuck_cancel,
        },
        &Unseen,
    );
    let cancel_once_waiting = async {
        while stuck_server
            .get("deployments", Some("app"), "web")
            .is_none()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        stuck_cancel.cancel();
    };
    let (stuck, ()) = tokio::join!(stuck, cancel_once_waiting);
    assert!(!stuck.healthy);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "stopped long before the timeout"
    );
    let waited = find(&stuck.report.outcomes, "app/web", "ready");
    assert!(
        waited.message.starts_with("interrupted while waiting"),
        "{}",
        waited.message
    );

    let other_server = ApiServer::start().await;
    let other_dir = tempfile::tempdir().unwrap();
    let other_client = client_for(&other_server, &other_dir).await;
    let objects = workloads().into_iter().map(desired).collect();
    let other = stage::run(
        &fast(),
        stage::Input {
            client: &other_client,
            objects,
            cancel: &Cancel::new(),
        },
        &Unseen,
    )
    .await;
    assert!(other.healthy, "{:#?}", other.report.outcomes);
    assert!(
        other_server
            .get("deployments", Some("app"), "web")
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_finishes_in_flight_work_reports_and_stops() {
    interrupted_by("-INT").await;
}

/// Jenkins stops an aborted or timed-out step with SIGTERM: the same clean stop, report
/// included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_as_ctrl_c_does() {
    interrupted_by("-TERM").await;
}

async fn interrupted_by(signal: &str) {
    let repo = support::fixture("apply-basic");
    let config = fs::read_to_string(repo.path().join("policyrun.toml")).unwrap();
    fs::write(
        repo.path().join("policyrun.toml"),
        config.replace(
            "name = \"dev\"\n",
            "name = \"dev\"\n[cluster.ext_vars]\nfault = \"never-ready\"\n",
        ),
    )
    .unwrap();
    assert_eq!(policyrun_async(repo.path(), &["expand"]).await.code, 0);
    let (servers, kubeconfig) = three_clusters(repo.path()).await;
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_policyrun"))
        .args([
            "apply",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--timeout",
            "60",
        ])
        .current_dir(repo.path())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until dev's objects are applied and the stage waits on the stuck Deployment.
    let started = std::time::Instant::now();
    while servers[0].get("deployments", Some("app"), "web").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "nothing applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "stopped long before the timeout"
    );
    assert!(stdout.contains("interrupted while waiting"), "{stdout}");
    assert!(stdout.contains("not applied: interrupted"), "{stdout}");
    assert_eq!(servers[1].writes() + servers[2].writes(), 0);
}

#[tokio::test]
async fn field_ownership_conflicts_are_reported_and_overridden_only_when_forced() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let mut resources = Resources::default();
    let contested = with_fault(deployment(2, "web:1"), "conflict");
    let error = apply(&client, &mut resources, &contested, ApplyOptions::default())
        .await
        .unwrap_err();
    assert!(
        error.contains("Conflict (409)") && error.contains(".spec.replicas"),
        "{error}"
    );
    assert!(server.get("deployments", Some("app"), "web").is_none());
    let forced = ApplyOptions {
        dry_run: false,
        force_conflicts: true,
    };
    apply(&client, &mut resources, &contested, forced)
        .await
        .unwrap();
    assert!(server.get("deployments", Some("app"), "web").is_some());
}
