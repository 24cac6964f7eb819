//! The rollout's use of the Kubernetes API against the test API server (`support/apiserver`):
//! a client from a kubeconfig context, and server-side apply through the real kube client
//! over loopback HTTP.

mod support;

use std::fs;

use policyrun::apply::kubeapi::{self, ApplyOptions, Resources};
use serde_json::{Value, json};
use support::apiserver::ApiServer;

const TOKEN: &str = "s3cr3t-bearer-token";

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

    let applied = kubeapi::apply(
        &client,
        &mut resources,
        &deployment(2, "web:1"),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(applied["metadata"]["generation"], 1);
    // The same spec again: nothing to roll out.
    let again = kubeapi::apply(
        &client,
        &mut resources,
        &deployment(2, "web:1"),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(again["metadata"]["generation"], 1);
    // A new image: a new generation for the controller to observe.
    let changed = kubeapi::apply(
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
    let answered = kubeapi::apply(&client, &mut resources, &config_map, dry)
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
    kubeapi::apply(&client, &mut resources, &namespace, ApplyOptions::default())
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
    let error = kubeapi::apply(&client, &mut resources, &unknown, ApplyOptions::default())
        .await
        .unwrap_err();
    assert!(
        error.contains("example.com/v1 Gadget is not served"),
        "{error}"
    );
    let no_namespace = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    let error = kubeapi::apply(
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
