//! The bake between rollout stages, against a real Prometheus (`support/prometheus`) that
//! scrapes metrics the test changes, and the test API servers of `support/apiserver`: a
//! clean bake promotes, an alert or a requirement that fails stops the rollout before the
//! next cluster gets a single write, and a server that cannot be asked fails closed.

use crate::support;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::apiserver::{ApiServer, three_clusters};
use support::prometheus::{self, Asked, FakePrometheus, Metrics, Prometheus};

const TOKEN: &str = "bake-test-kube-token";

/// An alert per cluster that serves errors, and a noisy one a configuration ignores.
const RULES: &str = r#"
groups:
  - name: app
    rules:
      - alert: AppErrors
        expr: app_errors_total > 0
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.cluster }} serves errors"
      - alert: NoisyCanary
        expr: app_noise > 0
"#;

fn metrics_text(errors: &[(&str, u32)], noise: &[&str], ready_ratio: f64) -> String {
    let mut text = String::from("# TYPE app_errors_total counter\n");
    for cluster in ["dev", "int", "web", "other"] {
        let count = errors
            .iter()
            .find(|(c, _)| *c == cluster)
            .map_or(0, |(_, n)| *n);
        text.push_str(&format!(
            "app_errors_total{{cluster=\"{cluster}\"}} {count}\n"
        ));
        let noisy = u32::from(noise.contains(&cluster));
        text.push_str(&format!("app_noise{{cluster=\"{cluster}\"}} {noisy}\n"));
        text.push_str(&format!(
            "app_ready_ratio{{cluster=\"{cluster}\"}} {ready_ratio}\n"
        ));
    }
    text
}

/// The apply fixture with `bake` (TOML lines) as its `[apply.bake]` table.
fn repository(bake: &str) -> tempfile::TempDir {
    let repo = support::fixture("apply-basic");
    let path = repo.path().join("policyrun.toml");
    let config = fs::read_to_string(&path).unwrap();
    fs::write(&path, format!("{config}\n[apply.bake]\n{bake}\n")).unwrap();
    repo
}

fn bake_table(server: &Prometheus, duration: u64, extra: &str) -> String {
    format!(
        "duration = {duration}\ninterval = 1\nprometheus = \"{}\"\n{extra}",
        server.url
    )
}

/// `policyrun apply` as a child process, with `--output json`; env as given.
fn start_apply(repo: &Path, kubeconfig: &Path, extra: &[&str], env: &[(&str, &str)]) -> Child {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_policyrun"));
    command
        .args(["apply", "--output", "json", "--kubeconfig"])
        .arg(kubeconfig)
        .args(["--junit", "apply.xml"])
        .args(extra)
        .current_dir(repo)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    Child {
        child: command.spawn().unwrap(),
        repo: repo.to_path_buf(),
    }
}

struct Child {
    child: std::process::Child,
    repo: std::path::PathBuf,
}

struct Finished {
    code: Option<i32>,
    report: Value,
    stderr: String,
    junit: String,
    raw: String,
}

impl Child {
    async fn finish(self) -> Finished {
        let repo = self.repo;
        let output = tokio::task::spawn_blocking(move || self.child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        let report: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not a JSON report ({e}): {stdout}\n{stderr}"));
        let junit = fs::read_to_string(repo.join("apply.xml")).unwrap_or_default();
        Finished {
            code: output.status.code(),
            raw: format!("{stdout}\n{stderr}\n{junit}"),
            report,
            stderr,
            junit,
        }
    }
}

impl Child {
    /// As [`Child::finish`], but the process is killed when it has not ended within `limit`
    /// (a generous bound only a hang reaches) and the test fails. Its output is read as it
    /// comes, so that a large report cannot hold it up.
    async fn finish_within(mut self, limit: Duration, what: &str) -> Finished {
        let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut text = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut text);
                }
                String::from_utf8_lossy(&text).into_owned()
            })
        };
        let stdout = read(self.child.stdout.take().map(|p| Box::new(p) as _));
        let stderr = read(self.child.stderr.take().map(|p| Box::new(p) as _));
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{what}: still running after {limit:?}, killed");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
        let report: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not a JSON report ({e}): {stdout}\n{stderr}"));
        let junit = fs::read_to_string(self.repo.join("apply.xml")).unwrap_or_default();
        Finished {
            code: status.code(),
            raw: format!("{stdout}\n{stderr}\n{junit}"),
            report,
            stderr,
            junit,
        }
    }
}

impl Finished {
    fn outcome(&self, check: &str, subject: &str) -> &Value {
        self.report["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["check"] == check && o["subject"] == subject)
            .unwrap_or_else(|| panic!("no {check} outcome for {subject}: {:#}", self.report))
    }

    fn message(&self, check: &str, subject: &str) -> String {
        self.outcome(check, subject)["message"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn has(&self, check: &str, subject: &str) -> bool {
        self.report["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["check"] == check && o["subject"] == subject)
    }
}

/// Waits until `ready` holds, polling; panics after `limit`.
async fn until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn image(server: &ApiServer) -> Option<String> {
    server
        .get("deployments", Some("app"), "web")?
        .pointer("/spec/template/spec/containers/0/image")?
        .as_str()
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_bake_promotes_and_alerts_of_other_clusters_or_ignored_ones_do_not_block() {
    if !prometheus::available() {
        return;
    }
    // Firing all along: an alert for a cluster that is not ours, and an ignored one on dev.
    let metrics = Metrics::serve(&metrics_text(&[("other", 3)], &["dev"], 1.0));
    let server = Prometheus::start(&metrics, RULES, None);
    server.wait_for(r#"ALERTS{alertname="AppErrors", cluster="other", alertstate="firing"}"#);
    server.wait_for(r#"ALERTS{alertname="NoisyCanary", cluster="dev", alertstate="firing"}"#);
    let repo = repository(&bake_table(
        &server,
        2,
        "ignore = [\"NoisyCanary\"]\nrequire = [\"app_ready_ratio{cluster=\\\"dev\\\"} > 0.5\"]\n",
    ));
    let (servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    let run = start_apply(repo.path(), &kubeconfig, &[], &[])
        .finish()
        .await;
    assert_eq!(run.code, Some(0), "{}", run.raw);
    for (cluster, api) in ["dev", "int", "web"].iter().zip(&servers) {
        let bake = run.outcome("bake", &format!("bake {cluster}"));
        assert_eq!(bake["status"], "passed", "{bake:#}");
        let message = bake["message"].as_str().unwrap();
        assert!(
            message.starts_with("clean for 2s: ") && message.contains("the requirement held"),
            "{message}"
        );
        assert!(api.writes() > 0, "{cluster} was applied");
        assert_eq!(
            run.outcome("stage", &format!("stage {cluster}"))["status"],
            "passed"
        );
    }
    // Outside a terminal, the bake says what it waits for on standard error.
    assert!(
        run.stderr
            .contains("dev: baking for 2s, asking http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    support::assert_valid_junit(&run.junit);
    assert!(run.junit.contains("bake web"), "{}", run.junit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_during_dev_s_bake_stops_the_rollout_and_undo_puts_the_old_template_back() {
    if !prometheus::available() {
        return;
    }
    let metrics = Metrics::serve(&metrics_text(&[], &[], 1.0));
    let server = Prometheus::start(&metrics, RULES, None);
    let repo = repository(&bake_table(&server, 60, ""));
    let (servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    // Version 1.0 everywhere, without baking.
    let first = start_apply(repo.path(), &kubeconfig, &["--no-bake"], &[])
        .finish()
        .await;
    assert_eq!(first.code, Some(0), "{}", first.raw);
    let int_writes = servers[1].writes();
    // Version 2.0, and dev starts serving errors once it runs it.
    let library = repo.path().join("common/app.libsonnet");
    let text = fs::read_to_string(&library).unwrap();
    fs::write(&library, text.replace("web:1.0", "web:2.0")).unwrap();
    let expand = support::policyrun_async(repo.path(), &["expand"]).await;
    assert_eq!(expand.code, 0, "{}{}", expand.stdout, expand.stderr);
    let started = Instant::now();
    let apply = start_apply(repo.path(), &kubeconfig, &["--on-failure", "undo"], &[]);
    until(Duration::from_secs(60), "dev to run 2.0", || {
        image(&servers[0]).as_deref() == Some("registry.example.com/web:2.0")
    })
    .await;
    metrics.set(&metrics_text(&[("dev", 7)], &[], 1.0));
    let run = apply.finish().await;
    assert_eq!(run.code, Some(1), "{}", run.raw);
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "the bake ended at the alert, not after its 60 s"
    );
    let bake = run.outcome("bake", "bake dev");
    assert_eq!(bake["status"], "failed");
    let message = bake["message"].as_str().unwrap();
    assert!(
        message.contains(r#"alert AppErrors {cluster="dev", instance="#)
            && message.contains("severity=\"page\"")
            && message.contains("firing since ")
            && message.contains(": dev serves errors"),
        "{message}"
    );
    assert!(
        run.message("stage", "stage dev")
            .contains("not healthy while baking"),
    );
    assert_eq!(servers[1].writes(), int_writes, "int never got a write");
    assert_eq!(run.outcome("stage", "stage int")["status"], "skipped");
    // --on-failure undo: dev's Deployment has the template from before the stage.
    assert_eq!(
        image(&servers[0]).as_deref(),
        Some("registry.example.com/web:1.0")
    );
    let undo = run.outcome("on-failure", "Deployment app/web");
    assert_eq!(undo["status"], "passed", "{undo:#}");
    support::assert_valid_junit(&run.junit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requirement_that_turns_false_fails_the_stage_with_the_value_seen() {
    if !prometheus::available() {
        return;
    }
    let metrics = Metrics::serve(&metrics_text(&[], &[], 1.0));
    let server = Prometheus::start(&metrics, RULES, None);
    let repo = repository(&bake_table(
        &server,
        60,
        "require = [\"app_ready_ratio{cluster=\\\"dev\\\"}\"]\n",
    ));
    let (servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    let apply = start_apply(repo.path(), &kubeconfig, &["--until", "int"], &[]);
    until(Duration::from_secs(60), "dev to be applied", || {
        image(&servers[0]).is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    metrics.set(&metrics_text(&[], &[], 0.0));
    let run = apply.finish().await;
    assert_eq!(run.code, Some(1), "{}", run.raw);
    let message = run.message("bake", "bake dev");
    assert!(
        message.contains(r#"requirement `app_ready_ratio{cluster="dev"}` did not hold: {"#)
            && message.contains(r#"cluster="dev""#)
            && message.contains("} 0"),
        "{message}"
    );
    assert_eq!(servers[1].writes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_away_fails_the_bake_closed() {
    if !prometheus::available() {
        return;
    }
    let metrics = Metrics::serve(&metrics_text(&[], &[], 1.0));
    let mut server = Prometheus::start(&metrics, RULES, None);
    let repo = repository(&bake_table(&server, 60, ""));
    let (servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    let apply = start_apply(repo.path(), &kubeconfig, &[], &[]);
    until(Duration::from_secs(60), "dev to be applied", || {
        image(&servers[0]).is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.stop();
    let run = apply.finish().await;
    assert_eq!(run.code, Some(1), "{}", run.raw);
    let message = run.message("bake", "bake dev");
    assert!(
        message.contains("cannot verify health") && message.contains("tried 3 times"),
        "{message}"
    );
    assert_eq!(servers[1].writes() + servers[2].writes(), 0);

    // A server that is not there before the stage: nothing is applied at all.
    let repo = repository("duration = 5\nprometheus = \"http://127.0.0.1:1\"\n");
    let (servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    let run = start_apply(repo.path(), &kubeconfig, &[], &[])
        .finish()
        .await;
    assert_eq!(run.code, Some(1), "{}", run.raw);
    let stage = run.message("stage", "stage dev");
    assert!(
        stage.starts_with("cannot verify health: `ALERTS{")
            && stage.contains("127.0.0.1:1")
            && stage.ends_with("nothing applied"),
        "{stage}"
    );
    assert_eq!(servers.iter().map(ApiServer::writes).sum::<usize>(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_bake_promotes_at_once_and_every_report_says_so() {
    if !prometheus::available() {
        return;
    }
    let metrics = Metrics::serve(&metrics_text(&[("dev", 1)], &[], 1.0));
    let server = Prometheus::start(&metrics, RULES, None);
    server.wait_for(r#"ALERTS{alertname="AppErrors", cluster="dev", alertstate="firing"}"#);
    let repo = repository(&bake_table(&server, 600, ""));
    let (servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    let started = Instant::now();
    let run = start_apply(repo.path(), &kubeconfig, &["--no-bake"], &[])
        .finish()
        .await;
    assert_eq!(run.code, Some(0), "{}", run.raw);
    assert!(started.elapsed() < Duration::from_secs(120));
    for cluster in ["dev", "int", "web"] {
        let bake = run.outcome("bake", &format!("bake {cluster}"));
        assert_eq!(bake["status"], "skipped");
        assert!(
            bake["message"].as_str().unwrap().contains("--no-bake"),
            "{bake:#}"
        );
    }
    assert!(run.junit.contains("skipped (--no-bake)"), "{}", run.junit);
    assert!(servers.iter().all(|s| s.writes() > 0));
    // A dry run bakes nothing either, and says so.
    let run = start_apply(repo.path(), &kubeconfig, &["--dry-run"], &[])
        .finish()
        .await;
    assert_eq!(run.code, Some(0), "{}", run.raw);
    assert!(run.message("bake", "bake dev").contains("dry run"));
    // Without a bake configured there is no bake result at all.
    let plain = support::fixture("apply-basic");
    let (_servers, kubeconfig) = three_clusters(plain.path(), TOKEN).await;
    let run = start_apply(plain.path(), &kubeconfig, &["--until", "dev"], &[])
        .finish()
        .await;
    assert_eq!(run.code, Some(0), "{}", run.raw);
    assert!(!run.has("bake", "bake dev"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prometheus_password_authenticates_and_is_never_printed() {
    if !prometheus::available() {
        return;
    }
    let metrics = Metrics::serve(&metrics_text(&[], &[], 1.0));
    let server = Prometheus::start(&metrics, RULES, Some(prometheus::WEB_CONFIG_BASIC_AUTH));
    let repo = repository(&bake_table(
        &server,
        1,
        &format!(
            "basic_auth_user = \"{}\"\nbasic_auth_password_env = \"BAKE_TEST_PASSWORD\"\n",
            prometheus::TEST_USER
        ),
    ));
    let (_servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    let run = start_apply(
        repo.path(),
        &kubeconfig,
        &["--until", "dev"],
        &[("BAKE_TEST_PASSWORD", prometheus::TEST_PASSWORD)],
    )
    .finish()
    .await;
    assert_eq!(run.code, Some(0), "{}", run.raw);
    assert_eq!(run.outcome("bake", "bake dev")["status"], "passed");
    assert!(!run.raw.contains(prometheus::TEST_PASSWORD));

    // A wrong password: refused by the server before anything is applied; not shown.
    let wrong = "wrong-password-do-not-print";
    let (servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    let run = start_apply(
        repo.path(),
        &kubeconfig,
        &["--until", "dev"],
        &[("BAKE_TEST_PASSWORD", wrong)],
    )
    .finish()
    .await;
    assert_eq!(run.code, Some(1), "{}", run.raw);
    let message = run.message("stage", "stage dev");
    assert!(
        message.contains("HTTP 401") && message.ends_with("nothing applied"),
        "{message}"
    );
    assert!(!run.raw.contains(wrong), "{}", run.raw);
    assert_eq!(servers[0].writes(), 0);

    // No password at all: refused before anything is applied.
    let (servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    let run = start_apply(repo.path(), &kubeconfig, &["--until", "dev"], &[])
        .finish()
        .await;
    assert_eq!(run.code, Some(1), "{}", run.raw);
    let stage = run.message("stage", "stage dev");
    assert!(
        stage.contains("BAKE_TEST_PASSWORD") && stage.contains("nothing applied"),
        "{stage}"
    );
    assert_eq!(servers[0].writes(), 0);
}

/// Jenkins stops an aborted or timed-out step with SIGTERM: a bake ends as the readiness
/// wait does, with the report written and exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_bake_with_a_report() {
    if !prometheus::available() {
        return;
    }
    let metrics = Metrics::serve(&metrics_text(&[], &[], 1.0));
    let server = Prometheus::start(&metrics, RULES, None);
    let repo = repository(&bake_table(&server, 120, ""));
    let (servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    let started = Instant::now();
    let apply = start_apply(repo.path(), &kubeconfig, &[], &[]);
    until(Duration::from_secs(60), "dev to be applied", || {
        image(&servers[0]).is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &apply.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let run = apply.finish().await;
    assert_eq!(run.code, Some(1), "{}", run.raw);
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "not the whole bake"
    );
    let bake = run.outcome("bake", "bake dev");
    assert!(
        bake["message"]
            .as_str()
            .unwrap()
            .starts_with("interrupted while baking"),
        "{bake:#}"
    );
    assert_eq!(run.outcome("stage", "stage int")["status"], "skipped");
    assert_eq!(servers[1].writes() + servers[2].writes(), 0);
    support::assert_valid_junit(&run.junit);
}

// ---- hostile answers and settings (issue 26, items 2 to 4) -------------------------------

/// An instant vector of `series` (each a JSON object of labels), as Prometheus answers.
fn vector(series: &[String]) -> String {
    let result: Vec<String> = series
        .iter()
        .map(|labels| format!(r#"{{"metric":{labels},"value":[1764651600,"1"]}}"#))
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
        result.join(",")
    )
}

/// As many unlabelled firing series as alerts in the alert list: 80,000 of each (about
/// 12 MB together, under the 16 MiB cap) once made a 3-second bake take 93 s.
const FLOOD: usize = 80_000;

/// A Prometheus answering `n` unlabelled firing series, and `n` alerts none of which is
/// one of them.
fn flood_of_alerts(n: usize) -> FakePrometheus {
    let firing = vector(&vec!["{}".to_owned(); n]);
    let alerts: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"labels":{{"alertname":"Flood{i}","cluster":"dev"}},"annotations":{{}},"state":"firing","activeAt":"2026-12-02T05:00:00Z","value":"1"}}"#
            )
        })
        .collect();
    let list = format!(
        r#"{{"status":"success","data":{{"alerts":[{}]}}}}"#,
        alerts.join(",")
    );
    FakePrometheus::serve(move |asked: &Asked| {
        if asked.path.starts_with("/api/v1/alerts") {
            (200, list.clone())
        } else {
            (200, firing.clone())
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_firing_alerts_is_counted_in_one_pass_and_named_in_part() {
    let server = flood_of_alerts(FLOOD);
    let repo = repository(&format!(
        "duration = 3\ninterval = 1\nprometheus = \"{}\"\n",
        server.url
    ));
    let (servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    let run = start_apply(repo.path(), &kubeconfig, &[], &[])
        .finish_within(Duration::from_secs(240), "a bake of 80,000 firing alerts")
        .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let bake = run.message("bake", "bake dev");
    assert!(bake.starts_with("not healthy at sample 1"), "{bake}");
    assert_eq!(
        bake.matches("alert (no alertname) {} firing").count(),
        10,
        "{bake}"
    );
    assert!(
        bake.contains("and 79990 more blocking alerts; the rollout stops here"),
        "{bake}"
    );
    assert!(server.received().iter().any(|p| p == "/api/v1/alerts"));
    assert_eq!(servers[1].writes() + servers[2].writes(), 0);
    support::assert_valid_junit(&run.junit);
}

/// Not a test: the timed comparison in BENCHMARKS.md ("A flood of firing alerts", issue
/// 26). `policyrun apply --until dev` against a Prometheus answering 1, N and 2N firing
/// series and alerts (N from `POLICYRUN_FLOOD`, 10,000 by default), the sizes taking turns
/// for `POLICYRUN_ROUNDS` rounds (3); it prints the median wall time of each size and how
/// much N and 2N add to the run with one alert, and their ratio: 2 for linear work, 4 for
/// quadratic. `POLICYRUN_TIMING_BIN` runs another build of the binary (the one before the
/// fix). Run with
/// `cargo test --test all -- --ignored --nocapture bake::flood_timing`.
#[ignore]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_timing() {
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let n = number("POLICYRUN_FLOOD", 10_000);
    let rounds = number("POLICYRUN_ROUNDS", 3);
    let binary = std::env::var("POLICYRUN_TIMING_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_policyrun").to_owned());
    let sizes = [1, n, 2 * n];
    let servers: Vec<FakePrometheus> = sizes.iter().map(|&n| flood_of_alerts(n)).collect();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); sizes.len()];
    for round in 0..rounds {
        for turn in 0..sizes.len() {
            let which = (turn + round) % sizes.len();
            let repo = repository(&format!(
                "duration = 3\ninterval = 1\nprometheus = \"{}\"\n",
                servers[which].url
            ));
            let (_clusters, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
            let started = Instant::now();
            let mut command = std::process::Command::new(&binary);
            command
                .args(["apply", "--until", "dev", "--kubeconfig"])
                .arg(&kubeconfig)
                .current_dir(repo.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            let status = tokio::task::spawn_blocking(move || command.status())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(status.code(), Some(1), "the bake fails on the alerts");
            times[which].push(started.elapsed());
        }
    }
    let median = |runs: &mut Vec<Duration>| {
        runs.sort();
        runs[runs.len() / 2]
    };
    let medians: Vec<Duration> = times.iter_mut().map(median).collect();
    for (size, time) in sizes.iter().zip(&medians) {
        println!("{size:>7} alerts: {:>8.2} s", time.as_secs_f64());
    }
    let added = |i: usize| medians[i].as_secs_f64() - medians[0].as_secs_f64();
    println!(
        "added by {n}: {:.2} s, by {}: {:.2} s, ratio {:.2}",
        added(1),
        2 * n,
        added(2),
        added(2) / added(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_sample_waiting_on_prometheus_at_once() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let released = Arc::new(AtomicBool::new(false));
    let held = released.clone();
    let firing = vector(&[r#"{"alertname":"Held","cluster":"dev"}"#.to_owned()]);
    // The alert list is held back (up to a minute): the sample is in flight when the
    // signal comes.
    let server = FakePrometheus::serve(move |asked: &Asked| {
        if asked.path.starts_with("/api/v1/alerts") {
            let started = Instant::now();
            while !held.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(20));
            }
            (
                200,
                r#"{"status":"success","data":{"alerts":[]}}"#.to_owned(),
            )
        } else {
            (200, firing.clone())
        }
    });
    let repo = repository(&format!(
        "duration = 60\ninterval = 20\nprometheus = \"{}\"\n",
        server.url
    ));
    let (servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    let apply = start_apply(repo.path(), &kubeconfig, &[], &[]);
    until(
        Duration::from_secs(60),
        "the alert list to be asked for",
        || server.received().iter().any(|p| p == "/api/v1/alerts"),
    )
    .await;
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &apply.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Well within the request's own 10 s timeout, had it been waited for.
    let run = apply
        .finish_within(Duration::from_secs(30), "a bake interrupted in flight")
        .await;
    released.store(true, Ordering::SeqCst);
    assert_eq!(run.code, Some(1), "{}", run.raw);
    let bake = run.message("bake", "bake dev");
    assert!(
        bake.starts_with("interrupted while baking") && bake.ends_with("after 0 clean samples"),
        "{bake}"
    );
    assert_eq!(run.outcome("stage", "stage int")["status"], "skipped");
    assert_eq!(servers[1].writes() + servers[2].writes(), 0);
}

/// A server that quotes the credential it was sent, in every form it might: as sent,
/// decoded, percent-encoded. `json`: as a Prometheus API error (400) whose words are cut
/// at 200 characters in the report, the cut falling inside the credential; otherwise a
/// plain-text 401.
fn echoing_server(json: bool) -> FakePrometheus {
    FakePrometheus::serve(move |asked: &Asked| {
        let header = asked.authorization.clone();
        let decoded = header
            .strip_prefix("Basic ")
            .and_then(|b| data_encoding::BASE64.decode(b.as_bytes()).ok())
            .map(|pair| String::from_utf8_lossy(&pair).into_owned())
            .unwrap_or_default();
        let password = decoded.split_once(':').map_or("", |(_, p)| p).to_owned();
        if json {
            let words = format!("{} you sent {header}", "x".repeat(170));
            let body = serde_json::json!({"status": "error", "errorType": "bad_data",
                "error": words});
            (400, body.to_string())
        } else {
            (
                401,
                format!(
                    "Unauthorized: {} ({decoded}, as {}) from {header} as {}",
                    prometheus::percent_encoded(&password),
                    password,
                    prometheus::percent_encoded(&header)
                ),
            )
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prometheus_that_echoes_the_credential_does_not_get_it_into_any_report() {
    // A bearer token, quoted in an API error cut short in the report.
    let token = "prom-secret-token-ABC+/=";
    let server = echoing_server(true);
    let repo = repository(&format!(
        "duration = 3\ninterval = 1\nprometheus = \"{}\"\nbearer_token_env = \"BAKE_ECHO_TOKEN\"\n",
        server.url
    ));
    let (servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    let run = start_apply(
        repo.path(),
        &kubeconfig,
        &["--until", "dev"],
        &[("BAKE_ECHO_TOKEN", token)],
    )
    .finish()
    .await;
    assert_eq!(run.code, Some(1), "{}", run.raw);
    let stage = run.message("stage", "stage dev");
    assert!(
        stage.contains("HTTP 400: bad_data error: xxx")
            && stage.contains("you sent <hidden credential> (tried 3 times)")
            && stage.ends_with("nothing applied"),
        "{stage}"
    );
    assert!(!run.raw.contains("prom-secret"), "{}", run.raw);
    assert_eq!(servers[0].writes(), 0);

    // Basic authentication, quoted as base64, as user:password, as the password alone and
    // percent-encoded.
    let password = "p@ss w/rd+&:x";
    let server = echoing_server(false);
    let repo = repository(&format!(
        "duration = 3\ninterval = 1\nprometheus = \"{}\"\nbasic_auth_user = \"ops\"\nbasic_auth_password_env = \"BAKE_ECHO_PASSWORD\"\n",
        server.url
    ));
    let (servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    let run = start_apply(
        repo.path(),
        &kubeconfig,
        &["--until", "dev"],
        &[("BAKE_ECHO_PASSWORD", password)],
    )
    .finish()
    .await;
    assert_eq!(run.code, Some(1), "{}", run.raw);
    let stage = run.message("stage", "stage dev");
    assert!(
        stage.contains("HTTP 401: Unauthorized: <hidden credential> (<hidden credential>, as <hidden credential>) from <hidden credential> as <hidden credential>"),
        "{stage}"
    );
    let base64 = data_encoding::BASE64.encode(format!("ops:{password}").as_bytes());
    for form in [base64.trim_end_matches('='), "p@ss", "p%40ss", "ops:p"] {
        assert!(!run.raw.contains(form), "{form} in {}", run.raw);
    }
    assert_eq!(servers[0].writes(), 0);
    support::assert_valid_junit(&run.junit);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_that_is_a_fifo_is_refused_at_once_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("token");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let server = FakePrometheus::serve(|_: &Asked| (200, vector(&[])));
    let repo = repository(&format!(
        "duration = 3\ninterval = 1\nprometheus = \"{}\"\nbearer_token_file = \"{}\"\n",
        server.url,
        fifo.display()
    ));
    let (servers, kubeconfig) = three_clusters(repo.path(), TOKEN).await;
    let run = start_apply(repo.path(), &kubeconfig, &["--until", "dev"], &[])
        .finish_within(Duration::from_secs(60), "a bake whose token file is a FIFO")
        .await;
    assert_eq!(run.code, Some(1), "{}", run.raw);
    let stage = run.message("stage", "stage dev");
    assert!(
        stage.contains(&format!(
            "apply.bake.bearer_token_file: {} is a FIFO, not a regular file",
            fifo.display()
        )) && stage.ends_with("nothing applied"),
        "{stage}"
    );
    assert!(server.received().is_empty());
    assert_eq!(servers[0].writes(), 0);
}
