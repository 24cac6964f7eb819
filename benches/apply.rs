//! Measures the rollout's client overhead: one stage of 1,000 objects (ConfigMaps, Services
//! and Deployments across 10 namespaces) applied and checked for readiness against the test
//! API server on loopback, so that everything but a cluster's own rollout time is counted:
//! discovery, server-side apply of every object, readiness reads, outcomes. The Deployments'
//! simulated rollouts take a few 10 ms ticks; the figure includes that wait.
//! Run with `cargo bench --bench apply`; `POLICYRUN_BENCH_OBJECTS=1000` and
//! `POLICYRUN_BENCH_ROUNDS=5` change the defaults.

// The integration tests' API server; the bench uses only part of it.
#[path = "../tests/all/support/apiserver.rs"]
#[allow(dead_code)]
mod apiserver;
mod measure;

// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::Duration;

use apiserver::ApiServer;
use measure::median;
use policyrun::apply::Cancel;
use policyrun::apply::kubeapi;
use policyrun::apply::stage::{self, Desired, StageOptions};
use policyrun::model::events::Unseen;
use policyrun::model::outcome::ObjectId;
use serde_json::{Value, json};

fn object(i: usize) -> Value {
    let namespace = format!("team-{:02}", i % 10);
    let name = format!("app-{i:04}");
    match i % 4 {
        0 => json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                             "template": {"metadata": {"labels": {"app": name}},
                                          "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}}),
        1 => json!({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}),
        _ => json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": namespace}, "data": {"i": i.to_string()}}),
    }
}

fn desired(value: Value) -> Desired {
    let text = |p: &str| value.pointer(p).and_then(Value::as_str).map(str::to_owned);
    Desired {
        id: Arc::new(ObjectId {
            cluster: "bench".into(),
            entry: "clusters/bench/app.jsonnet".into(),
            item: None,
            api_version: text("/apiVersion").unwrap_or_default(),
            kind: text("/kind").unwrap_or_default(),
            namespace: text("/metadata/namespace"),
            name: text("/metadata/name").unwrap_or_default(),
        }),
        file: "generated/bench/app.json".into(),
        value,
    }
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let count: usize = std::env::var("POLICYRUN_BENCH_OBJECTS")
        .ok()
        .map(|n| n.parse().expect("object count"))
        .unwrap_or(if benchmarking { 1000 } else { 40 });
    let rounds: usize = std::env::var("POLICYRUN_BENCH_ROUNDS")
        .ok()
        .map(|n| n.parse().expect("round count"))
        .unwrap_or(if benchmarking { 5 } else { 1 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let options = StageOptions {
        retry: Duration::from_millis(200),
        ..StageOptions::default()
    };
    let mut first = Vec::new();
    let mut again = Vec::new();
    for _ in 0..rounds {
        runtime.block_on(async {
            // A fresh server per round: the first stage creates everything, the second finds
            // it all in place (what a re-run after a merge mostly is).
            let server = ApiServer::start().await;
            let dir = tempfile::tempdir().expect("temporary directory");
            let path = dir.path().join("kubeconfig");
            std::fs::write(&path, server.kubeconfig("bench", "bench-token")).expect("kubeconfig");
            let client = kubeapi::connect("bench", Some(&path))
                .await
                .expect("client");
            let mut namespaces: Vec<Desired> = (0..10)
                .map(|t| {
                    desired(json!({"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": format!("team-{t:02}")}}))
                })
                .collect();
            let objects: Vec<Desired> = (0..count).map(|i| desired(object(i))).collect();
            namespaces.extend(objects);
            for samples in [&mut first, &mut again] {
                let started = std::time::Instant::now();
                let result = stage::run(
                    &options,
                    stage::Input {
                        client: &client,
                        objects: namespaces.clone(),
                        cancel: &Cancel::new(),
                    },
                    &Unseen,
                )
                .await;
                samples.push(started.elapsed());
                assert!(result.healthy, "the stage is healthy");
            }
        });
    }
    println!(
        "apply stage, {} objects ({} Deployments) against the loopback test API server, median of {rounds} rounds",
        count + 10,
        count / 4
    );
    println!(
        "  first apply (creates):   {:>8.1} ms",
        median(first).as_secs_f64() * 1e3
    );
    println!(
        "  second apply (no change): {:>7.1} ms",
        median(again).as_secs_f64() * 1e3
    );
}
