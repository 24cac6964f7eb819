//! Test support only: a small Kubernetes API server on loopback HTTP that the real kube
//! client talks to, since no kube-apiserver, envtest, kind, k3s or kwok can be installed on
//! these machines. It serves discovery (`/api`, `/apis`, resource lists with scope),
//! server-side apply (`application/apply-patch+yaml` with `fieldManager`, `force`,
//! `dryRun=All`; the generation grows only when the spec changes), JSON merge patches, GET,
//! LIST (with equality label and field selectors), DELETE and WATCH: every change gets the
//! next resourceVersion and goes into a bounded history that watches replay from the version
//! they name; a version older than the history gets the ERROR event `410 Gone`, as from a
//! real server. It is not a Kubernetes implementation: apply merges the applied object over
//! the stored one instead of tracking field ownership. A rollout simulator moves the status
//! of Deployments, StatefulSets, DaemonSets, Jobs and CRDs forward every tick, as their
//! controllers would; a workload that never becomes ready gets a Pod stuck in
//! `ImagePullBackOff`, a failed Job an Event.
//! Faults are injected per object with the annotation `test.policyrun.io/fault`:
//! `never-ready`, `slow` (one step every ten ticks), `progress-deadline`, `job-fails`,
//! `forbidden` (403 on apply), `invalid` (422 on apply), `conflict` (409 unless forced),
//! `flaky` (500 on the first two applies), `throttled` (429 on the first two),
//! `dropped-watch` (every watch on it is closed after at most one event),
//! `echo-authorization` (401 on apply, quoting the `Authorization` header it was sent, as
//! is, percent-encoded and as Go's JSON encoder escapes it).
//! Paths are percent-decoded before they are split at `/` and queries are form-decoded, as
//! the API server (Go's `net/url`) does; field selectors take `\` escapes. `requests` keeps
//! each request's path and query exactly as received.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

/// A resource the server serves.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
}

/// The built-in resources the tests use.
pub(crate) fn builtin_resources() -> Vec<Resource> {
    let r = |group, version, kind, plural, namespaced| Resource {
        group,
        version,
        kind,
        plural,
        namespaced,
    };
    vec![
        r("", "v1", "Namespace", "namespaces", false),
        r("", "v1", "ConfigMap", "configmaps", true),
        r("", "v1", "Secret", "secrets", true),
        r("", "v1", "Service", "services", true),
        r("", "v1", "ServiceAccount", "serviceaccounts", true),
        r("", "v1", "Pod", "pods", true),
        r("", "v1", "Event", "events", true),
        r("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
        r("apps", "v1", "Deployment", "deployments", true),
        r("apps", "v1", "StatefulSet", "statefulsets", true),
        r("apps", "v1", "DaemonSet", "daemonsets", true),
        r("batch", "v1", "Job", "jobs", true),
        r(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
        ),
        r(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            true,
        ),
        r(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        ),
    ]
}

/// (group, plural, namespace, name)
type Key = (String, String, Option<String>, String);

/// One change, as a watch reports it.
pub(crate) struct Change {
    pub resource_version: u64,
    pub key: Key,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    pub object: Value,
}

/// What the server holds, open to the tests.
pub(crate) struct State {
    pub objects: BTreeMap<Key, Value>,
    pub resource_version: u64,
    /// Every request as `METHOD path?query`, in order.
    pub requests: Vec<String>,
    /// Applies seen per object, for faults that pass after a few attempts.
    pub attempts: BTreeMap<Key, u32>,
    /// The latest changes, at most `history` of them, for watches to replay.
    pub changes: VecDeque<Change>,
    pub history: usize,
    /// Watches answered `410 Gone` because the version they asked for was too old.
    pub expired_watches: u32,
    /// Watches closed early by the `dropped-watch` fault.
    pub dropped_watches: u32,
    /// Ticks of the rollout simulator so far.
    pub ticks: u64,
    /// Answer every watch `403 Forbidden`, as RBAC without the `watch` verb does.
    pub refuse_watches: bool,
}

impl Default for State {
    fn default() -> Self {
        State {
            objects: BTreeMap::new(),
            resource_version: 0,
            requests: Vec::new(),
            attempts: BTreeMap::new(),
            changes: VecDeque::new(),
            history: 10_000,
            expired_watches: 0,
            dropped_watches: 0,
            ticks: 0,
            refuse_watches: false,
        }
    }
}

impl State {
    /// Stores a change under the next resourceVersion and returns the object as stored.
    fn record(&mut self, key: Key, kind: &'static str, mut object: Value) -> Value {
        self.resource_version += 1;
        object["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
        if kind == "DELETED" {
            self.objects.remove(&key);
        } else {
            self.objects.insert(key.clone(), object.clone());
        }
        self.changes.push_back(Change {
            resource_version: self.resource_version,
            key,
            kind,
            object: object.clone(),
        });
        while self.changes.len() > self.history.max(1) {
            self.changes.pop_front();
        }
        object
    }
}

/// A running server; it stops when dropped (or when the runtime that started it ends).
pub(crate) struct ApiServer {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl ApiServer {
    /// Starts serving on 127.0.0.1 (a free port). Call inside a Tokio runtime.
    pub(crate) async fn start() -> ApiServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let resources = Arc::new(builtin_resources());
        let ticking = state.clone();
        let simulator = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(std::time::Duration::from_millis(10));
            loop {
                ticks.tick().await;
                simulate(&mut ticking.lock().unwrap());
            }
        });
        let (s, r) = (state.clone(), resources);
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (state, resources) = (s.clone(), r.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        handle(state.clone(), resources.clone(), request)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        ApiServer {
            url,
            state,
            tasks: vec![simulator, server],
        }
    }

    /// A kubeconfig whose `context` reaches this server with a bearer token.
    pub(crate) fn kubeconfig(&self, context: &str, token: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {context}\nclusters:\n- name: test\n  cluster:\n    server: {}\ncontexts:\n- name: {context}\n  context:\n    cluster: test\n    user: test\nusers:\n- name: test\n  user:\n    token: {token}\n",
            self.url
        )
    }

    /// A kubeconfig with one context per (name, server), all with the same bearer token.
    pub(crate) fn kubeconfig_for(contexts: &[(&str, &ApiServer)], token: &str) -> String {
        let mut text = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
        for (name, server) in contexts {
            text.push_str(&format!(
                "- name: {name}\n  cluster:\n    server: {}\n",
                server.url
            ));
        }
        text.push_str("contexts:\n");
        for (name, _) in contexts {
            text.push_str(&format!(
                "- name: {name}\n  context:\n    cluster: {name}\n    user: ci\n"
            ));
        }
        text.push_str(&format!(
            "users:\n- name: ci\n  user:\n    token: {token}\n"
        ));
        text
    }

    /// How many requests changed something (PATCH or DELETE).
    pub(crate) fn writes(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with("PATCH") || r.starts_with("DELETE"))
            .count()
    }

    /// Stores an object as if someone else had created it.
    pub(crate) fn put(&self, group: &str, plural: &str, object: Value) {
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        self.state.lock().unwrap().record(
            (group.to_owned(), plural.to_owned(), namespace, name),
            "ADDED",
            object,
        );
    }

    /// The stored object, if any.
    pub(crate) fn get(&self, plural: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let state = self.state.lock().unwrap();
        state
            .objects
            .iter()
            .find(|((_, p, ns, n), _)| p == plural && ns.as_deref() == namespace && n == name)
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

type Answer = Response<BoxBody<Bytes, Infallible>>;

fn answer(code: StatusCode, body: Value) -> Answer {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .unwrap()
}

fn status(code: StatusCode, reason: &str, message: &str) -> Answer {
    answer(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code.as_u16()}),
    )
}

async fn handle(
    state: Arc<Mutex<State>>,
    resources: Arc<Vec<Resource>>,
    request: Request<Incoming>,
) -> Result<Answer, Infallible> {
    let method = request.method().clone();
    // Go's `URL.Path`: the whole path decoded, then split (so `%2F` separates segments).
    let path = percent_decode(request.uri().path(), false);
    let query: BTreeMap<String, String> = request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    state.lock().unwrap().requests.push(format!(
        "{method} {}{}",
        request.uri().path(),
        request
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    ));
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Ok(route(
        &state,
        &resources,
        &method,
        &path,
        &query,
        &content_type,
        &authorization,
        &body,
    ))
}

#[allow(clippy::too_many_arguments)]
fn route(
    state: &Arc<Mutex<State>>,
    resources: &[Resource],
    method: &Method,
    path: &str,
    query: &BTreeMap<String, String>,
    content_type: &str,
    authorization: &str,
    body: &[u8],
) -> Answer {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    // Discovery.
    match parts.as_slice() {
        ["api"] => {
            return answer(
                StatusCode::OK,
                json!({"kind": "APIVersions", "versions": ["v1"]}),
            );
        }
        ["apis"] => return answer(StatusCode::OK, group_list(resources)),
        ["api", "v1"] => return answer(StatusCode::OK, resource_list(resources, "", "v1")),
        ["apis", group, version] => {
            return answer(StatusCode::OK, resource_list(resources, group, version));
        }
        _ => {}
    }
    // Objects: /api/v1/... or /apis/<group>/<version>/...
    let (group, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return status(StatusCode::NOT_FOUND, "NotFound", "no such path"),
    };
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        _ => return status(StatusCode::NOT_FOUND, "NotFound", "no such path"),
    };
    let Some(resource) = resources
        .iter()
        .find(|r| r.group == group && r.plural == plural)
    else {
        return status(StatusCode::NOT_FOUND, "NotFound", "no such resource");
    };
    let selector = Selector {
        group: group.to_owned(),
        plural: plural.to_owned(),
        namespace: namespace.map(str::to_owned),
        labels: query.get("labelSelector").cloned().unwrap_or_default(),
        fields: query.get("fieldSelector").cloned().unwrap_or_default(),
    };
    if method == Method::GET
        && name.is_none()
        && query.get("watch").is_some_and(|w| w == "true" || w == "1")
    {
        if state.lock().unwrap().refuse_watches {
            return status(
                StatusCode::FORBIDDEN,
                "Forbidden",
                &format!(
                    "{plural} is forbidden: User \"jenkins\" cannot watch resource \"{plural}\""
                ),
            );
        }
        let from = query.get("resourceVersion").and_then(|v| v.parse().ok());
        let timeout = query
            .get("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .unwrap_or(300);
        return watch(state.clone(), selector, from, Duration::from_secs(timeout));
    }
    let mut state = state.lock().unwrap();
    match (method, name) {
        (&Method::GET, None) => {
            let items: Vec<Value> = state
                .objects
                .iter()
                .filter(|(key, v)| selector.matches(key, v))
                .map(|(_, v)| v.clone())
                .collect();
            let api_version = api_version(resource);
            answer(
                StatusCode::OK,
                json!({"kind": format!("{}List", resource.kind), "apiVersion": api_version,
                       "metadata": {"resourceVersion": state.resource_version.to_string()}, "items": items}),
            )
        }
        (&Method::GET, Some(name)) => {
            let key = key(group, plural, namespace, name);
            match state.objects.get(&key) {
                Some(object) => answer(StatusCode::OK, object.clone()),
                None => status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("{plural} \"{name}\" not found"),
                ),
            }
        }
        (&Method::DELETE, Some(name)) => {
            let key = key(group, plural, namespace, name);
            match state.objects.get(&key).cloned() {
                Some(gone) => {
                    state.record(key, "DELETED", gone);
                    answer(
                        StatusCode::OK,
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
                    )
                }
                None => status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("{plural} \"{name}\" not found"),
                ),
            }
        }
        (&Method::PATCH, Some(name)) if content_type == "application/merge-patch+json" => {
            let Ok(patch) = serde_json::from_slice::<Value>(body) else {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "the body is not JSON",
                );
            };
            let key = key(group, plural, namespace, name);
            let Some(stored) = state.objects.get(&key).cloned() else {
                return status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("{plural} \"{name}\" not found"),
                );
            };
            let mut patched = stored.clone();
            merge_patch(&mut patched, &patch);
            let generation = stored["metadata"]["generation"].as_i64().unwrap_or(1);
            let changed = stored.get("spec") != patched.get("spec");
            patched["metadata"]["generation"] = json!(generation + i64::from(changed));
            let patched = state.record(key, "MODIFIED", patched);
            answer(StatusCode::OK, patched)
        }
        (&Method::PATCH, Some(name)) => {
            if content_type != "application/apply-patch+yaml" {
                return status(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UnsupportedMediaType",
                    "only server-side apply is served",
                );
            }
            if query.get("fieldManager").is_none_or(|m| m.is_empty()) {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "fieldManager is required for apply",
                );
            }
            let Ok(applied) = serde_json::from_slice::<Value>(body) else {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "the body is not JSON",
                );
            };
            if applied.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "the name in the body differs from the URL",
                );
            }
            let key = key(group, plural, namespace, name);
            let attempt = {
                let count = state.attempts.entry(key.clone()).or_insert(0);
                *count += 1;
                *count
            };
            match fault(&applied) {
                "flaky" if attempt <= 2 => {
                    return status(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalError",
                        "etcdserver: leader changed",
                    );
                }
                "throttled" if attempt <= 2 => {
                    return status(
                        StatusCode::TOO_MANY_REQUESTS,
                        "TooManyRequests",
                        "the server has received too many requests",
                    );
                }
                "conflict" if query.get("force").is_none_or(|f| f != "true") => {
                    return status(
                        StatusCode::CONFLICT,
                        "Conflict",
                        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas",
                    );
                }
                "forbidden" => {
                    return status(
                        StatusCode::FORBIDDEN,
                        "Forbidden",
                        &format!(
                            "{plural} \"{name}\" is forbidden: User \"jenkins\" cannot patch resource \"{plural}\""
                        ),
                    );
                }
                "echo-authorization" => {
                    // A server (or a proxy in front of it) that quotes what it was sent.
                    let encoded: String = authorization
                        .bytes()
                        .map(|b| match b {
                            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                                (b as char).to_string()
                            }
                            _ => format!("%{b:02X}"),
                        })
                        .collect();
                    let message = format!(
                        "Unauthorized: the token in \"{authorization}\" is not valid (sent as {encoded})"
                    );
                    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Failure", "message": message, "reason": "Unauthorized",
                        "code": 401})
                    .to_string()
                    // Go's encoder writes these three escaped.
                    .replace('&', "\\u0026")
                    .replace('<', "\\u003c")
                    .replace('>', "\\u003e");
                    return Response::builder()
                        .status(StatusCode::UNAUTHORIZED)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(body)).boxed())
                        .unwrap();
                }
                "invalid" => {
                    return status(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "Invalid",
                        &format!(
                            "{} \"{name}\" is invalid: spec.replicas: Invalid value: -1",
                            resource.kind
                        ),
                    );
                }
                _ => {}
            }
            let dry_run = query.get("dryRun").is_some_and(|v| v == "All");
            let existing = state.objects.get(&key).cloned();
            let uid = format!("uid-{}", state.resource_version + 1);
            let merged = apply(existing.as_ref(), applied, &uid);
            if dry_run || existing.as_ref() == Some(&merged) {
                // Nothing stored, or nothing changed: no new version, as from a real server.
                return answer(StatusCode::OK, merged);
            }
            let kind = if existing.is_some() {
                "MODIFIED"
            } else {
                "ADDED"
            };
            let merged = state.record(key, kind, merged);
            answer(StatusCode::OK, merged)
        }
        _ => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "not served",
        ),
    }
}

/// Percent-decoding as Go's `net/url` does (`%XX`; with `plus`, `+` as a space, as in a
/// query). A `%` not followed by two hex digits is kept as it is.
pub(crate) fn percent_decode(text: &str, plus: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus => out.push(b' '),
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `key=value` terms of a selector, split at unescaped `,` and the first unescaped `=`, with
/// `\` escapes removed (the API server's `fields.ParseSelector`).
fn selector_terms(text: &str) -> Vec<(String, String)> {
    let mut terms = Vec::new();
    let (mut key, mut value) = (String::new(), String::new());
    let mut in_value = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(escaped) = chars.next() {
                    if in_value {
                        value.push(escaped)
                    } else {
                        key.push(escaped)
                    }
                }
            }
            ',' => {
                if !key.is_empty() {
                    terms.push((std::mem::take(&mut key), std::mem::take(&mut value)));
                }
                in_value = false;
            }
            '=' if !in_value => in_value = true,
            c if in_value => value.push(c),
            c => key.push(c),
        }
    }
    if !key.is_empty() {
        terms.push((key, value));
    }
    terms
}

/// Which objects a LIST or WATCH is about.
struct Selector {
    group: String,
    plural: String,
    namespace: Option<String>,
    /// `key=value,...` equality label selectors.
    labels: String,
    /// `metadata.name=x,involvedObject.name=y`: equality on dotted field paths.
    fields: String,
}

impl Selector {
    fn matches(&self, (group, plural, namespace, _): &Key, object: &Value) -> bool {
        let terms = selector_terms;
        *group == self.group
            && *plural == self.plural
            && (self.namespace.is_none() || *namespace == self.namespace)
            && terms(&self.labels).iter().all(|(key, value)| {
                object
                    .pointer("/metadata/labels")
                    .and_then(|l| l.get(key))
                    .and_then(Value::as_str)
                    == Some(value)
            })
            && terms(&self.fields).iter().all(|(path, value)| {
                let pointer = format!("/{}", path.replace('.', "/"));
                object.pointer(&pointer).and_then(Value::as_str) == Some(value)
            })
    }
}

/// The `410 Gone` status of a watch from `version` when the history starts at `oldest`.
fn gone(version: u64, oldest: Option<u64>) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "reason": "Expired", "code": 410,
        "message": format!("too old resource version: {version} ({})", oldest.unwrap_or(1) - 1)})
}

/// A watch: newline-separated JSON events, from the changes after `from` (or, without a
/// version, the objects as they are now as `ADDED`), until `timeout` or until the
/// `dropped-watch` fault closes it.
fn watch(
    state: Arc<Mutex<State>>,
    selector: Selector,
    from: Option<u64>,
    timeout: Duration,
) -> Answer {
    let (sender, receiver) = futures::channel::mpsc::unbounded::<Bytes>();
    let event = |kind: &str, object: &Value| {
        Bytes::from(format!("{}\n", json!({"type": kind, "object": object})))
    };
    let mut cursor = {
        let mut state = state.lock().unwrap();
        let oldest = state.changes.front().map(|c| c.resource_version);
        match from {
            None | Some(0) => {
                for (key, object) in &state.objects {
                    if selector.matches(key, object) {
                        let _ = sender.unbounded_send(event("ADDED", object));
                    }
                }
                Some(state.resource_version)
            }
            Some(version) if oldest.is_some_and(|oldest| version + 1 < oldest) => {
                state.expired_watches += 1;
                let _ = sender.unbounded_send(event("ERROR", &gone(version, oldest)));
                None
            }
            Some(version) => Some(version),
        }
    };
    if cursor.is_some() {
        tokio::spawn(async move {
            let deadline = Instant::now() + timeout;
            while let Some(after) = cursor {
                if sender.is_closed() {
                    // The client went away.
                    return;
                }
                let (lines, drop_now) = {
                    let mut state = state.lock().unwrap();
                    let mut lines = Vec::new();
                    let mut drop_now = false;
                    let oldest = state.changes.front().map(|c| c.resource_version);
                    if oldest.is_some_and(|oldest| after + 1 < oldest) {
                        // Changes this watch has not sent are gone from the history.
                        state.expired_watches += 1;
                        let _ = sender.unbounded_send(event("ERROR", &gone(after, oldest)));
                        return;
                    }
                    let first = state
                        .changes
                        .partition_point(|c| c.resource_version <= after);
                    for change in state.changes.range(first..) {
                        cursor = Some(change.resource_version);
                        if selector.matches(&change.key, &change.object) {
                            lines.push(event(change.kind, &change.object));
                            drop_now |= fault(&change.object) == "dropped-watch";
                            if drop_now {
                                break;
                            }
                        }
                    }
                    if drop_now {
                        state.dropped_watches += 1;
                    }
                    (lines, drop_now)
                };
                for line in lines {
                    if sender.unbounded_send(line).is_err() {
                        return;
                    }
                }
                if drop_now || Instant::now() >= deadline {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
    }
    let body = StreamBody::new(receiver.map(|line| Ok::<_, Infallible>(Frame::data(line))));
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(BodyExt::boxed(body))
        .unwrap()
}

fn key(group: &str, plural: &str, namespace: Option<&str>, name: &str) -> Key {
    (
        group.to_owned(),
        plural.to_owned(),
        namespace.map(str::to_owned),
        name.to_owned(),
    )
}

fn api_version(resource: &Resource) -> String {
    if resource.group.is_empty() {
        resource.version.to_owned()
    } else {
        format!("{}/{}", resource.group, resource.version)
    }
}

/// The object an apply leaves: the applied fields over the stored object, metadata the
/// server owns kept, the generation bumped only when the spec changed, status untouched.
/// The resourceVersion is the stored one; storing the result gives it the next.
fn apply(existing: Option<&Value>, applied: Value, uid: &str) -> Value {
    match existing {
        None => {
            let mut object = applied;
            let metadata = &mut object["metadata"];
            metadata["uid"] = json!(uid);
            metadata["generation"] = json!(1);
            metadata["creationTimestamp"] = json!("2026-11-29T00:00:00Z");
            object
        }
        Some(stored) => {
            let mut object = stored.clone();
            merge(&mut object, &applied);
            let generation = stored
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let changed = stored.get("spec") != object.get("spec");
            object["metadata"]["generation"] = json!(generation + i64::from(changed));
            object["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"].clone();
            object["metadata"]["uid"] = stored["metadata"]["uid"].clone();
            if let Some(status) = stored.get("status") {
                object["status"] = status.clone();
            }
            object
        }
    }
}

/// The fault an object asks for.
fn fault(object: &Value) -> &str {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get("test.policyrun.io/fault"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// One tick of the controllers: every workload's status one step nearer its spec (a
/// `slow` one every tenth tick); what they leave behind for a stuck or failed workload.
fn simulate(state: &mut State) {
    state.ticks += 1;
    let ticks = state.ticks;
    let mut changed = Vec::new();
    let mut created = Vec::new();
    for (key, object) in &state.objects {
        if fault(object) == "slow" && !ticks.is_multiple_of(10) {
            continue;
        }
        let mut next = object.clone();
        step(&mut next);
        if next != *object {
            created.extend(leftovers(key, &next, &state.objects));
            changed.push((key.clone(), next));
        }
    }
    for (key, object) in changed {
        state.record(key, "MODIFIED", object);
    }
    for (key, object) in created {
        state.record(key, "ADDED", object);
    }
}

/// What a controller leaves when a workload is stuck or failed, once: a Pod waiting in
/// `ImagePullBackOff` for a `never-ready` Deployment, StatefulSet or DaemonSet, a Warning
/// Event for a failed Job.
fn leftovers(key: &Key, object: &Value, objects: &BTreeMap<Key, Value>) -> Vec<(Key, Value)> {
    let (_, _, namespace, name) = key;
    let kind = object["kind"].as_str().unwrap_or("");
    let mut made = Vec::new();
    let workload = matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet");
    if workload && fault(object) == "never-ready" {
        let pod = format!("{name}-5d8f9c-x7k2p");
        let labels = object
            .pointer("/spec/selector/matchLabels")
            .cloned()
            .unwrap_or(json!({}));
        let container = object
            .pointer("/spec/template/spec/containers/0")
            .cloned()
            .unwrap_or(json!({}));
        let image = container["image"].as_str().unwrap_or("").to_owned();
        made.push((
            (
                "".to_owned(),
                "pods".to_owned(),
                namespace.clone(),
                pod.clone(),
            ),
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod, "namespace": namespace, "labels": labels},
                "spec": {"containers": [{"name": container["name"], "image": image}]},
                "status": {"phase": "Pending", "containerStatuses": [{
                    "name": container["name"], "ready": false, "restartCount": 0, "image": image,
                    "imageID": "",
                    "state": {"waiting": {"reason": "ImagePullBackOff",
                        "message": format!("Back-off pulling image \"{image}\"")}}}]}}),
        ));
    }
    let failed = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Failed"));
    if kind == "Job" && failed {
        let event = format!("{name}.1800000000000001");
        made.push((
            ("".to_owned(), "events".to_owned(), namespace.clone(), event.clone()),
            json!({"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": event, "namespace": namespace},
                "involvedObject": {"apiVersion": "batch/v1", "kind": "Job", "name": name, "namespace": namespace},
                "type": "Warning", "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
                "lastTimestamp": "2026-11-29T00:00:03Z", "count": 1}),
        ));
    }
    made.retain(|(key, _)| !objects.contains_key(key));
    made
}

fn step(object: &mut Value) {
    let kind = object["kind"].as_str().unwrap_or("").to_owned();
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
    let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let fault = fault(object).to_owned();
    let status = &mut object["status"];
    if !status.is_object() {
        *status = json!({});
    }
    let up = |status: &mut Value, field: &str, limit: i64| {
        let now = status[field].as_i64().unwrap_or(0);
        status[field] = json!((now + 1).min(limit));
    };
    match kind.as_str() {
        "Deployment" => {
            status["observedGeneration"] = json!(generation);
            if status["observedAt"].as_i64() != Some(generation) {
                // A new generation starts its rollout from scratch.
                status["observedAt"] = json!(generation);
                status["updatedReplicas"] = json!(0);
                status["availableReplicas"] = json!(0);
            }
            match fault.as_str() {
                "never-ready" => {}
                "progress-deadline" => {
                    status["conditions"] = json!([{"type": "Progressing", "status": "False",
                        "reason": "ProgressDeadlineExceeded",
                        "message": "ReplicaSet has timed out progressing."}]);
                }
                _ => {
                    let available = status["availableReplicas"].as_i64().unwrap_or(0);
                    let updated = status["updatedReplicas"].as_i64().unwrap_or(0);
                    if available < updated {
                        up(status, "availableReplicas", replicas);
                    } else {
                        up(status, "updatedReplicas", replicas);
                    }
                    status["replicas"] = status["updatedReplicas"].clone();
                }
            }
        }
        "StatefulSet" => {
            status["observedGeneration"] = json!(generation);
            if fault != "never-ready" {
                up(status, "readyReplicas", replicas);
                up(status, "updatedReplicas", replicas);
                if status["readyReplicas"].as_i64() == Some(replicas) {
                    status["currentRevision"] = json!(format!("rev-{generation}"));
                    status["updateRevision"] = json!(format!("rev-{generation}"));
                }
            }
        }
        "DaemonSet" => {
            status["observedGeneration"] = json!(generation);
            status["desiredNumberScheduled"] = json!(2);
            if fault != "never-ready" {
                up(status, "updatedNumberScheduled", 2);
                up(status, "numberAvailable", 2);
            }
        }
        // Decided, or stuck for good (`never-ready`): nothing moves any more.
        "Job" if status.get("conditions").is_some() || status["ticks"].as_i64() >= Some(3) => {}
        "Job" => {
            let ticks = status["ticks"].as_i64().unwrap_or(0) + 1;
            status["ticks"] = json!(ticks);
            if ticks >= 3 && status.get("conditions").is_none() {
                status["conditions"] = match fault.as_str() {
                    "job-fails" => json!([{"type": "Failed", "status": "True",
                        "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]),
                    "never-ready" => Value::Null,
                    _ => json!([{"type": "Complete", "status": "True"}]),
                };
                if status["conditions"].is_null() {
                    status.as_object_mut().map(|s| s.remove("conditions"));
                }
            }
        }
        "CustomResourceDefinition" => {
            status["conditions"] = json!([{"type": "Established", "status": "True"}]);
        }
        _ => {
            if status.as_object().is_some_and(|s| s.is_empty()) {
                object.as_object_mut().map(|o| o.remove("status"));
            }
        }
    }
}

/// Objects merge key by key; everything else (arrays included) is replaced.
fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        into.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (into, from) => *into = from.clone(),
    }
}

/// A JSON merge patch (RFC 7386): objects merge key by key, null removes a key,
/// everything else replaces.
fn merge_patch(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(into), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    into.remove(key);
                } else {
                    merge_patch(into.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (into, patch) => *into = patch.clone(),
    }
}

fn group_list(resources: &[Resource]) -> Value {
    let mut groups: BTreeMap<&str, &str> = BTreeMap::new();
    for r in resources.iter().filter(|r| !r.group.is_empty()) {
        groups.insert(r.group, r.version);
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(group, version)| {
            let gv = format!("{group}/{version}");
            json!({"name": group, "versions": [{"groupVersion": gv, "version": version}],
                   "preferredVersion": {"groupVersion": gv, "version": version}})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(resources: &[Resource], group: &str, version: &str) -> Value {
    let list: Vec<Value> = resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .map(|r| {
            json!({"name": r.plural, "singularName": r.kind.to_lowercase(), "namespaced": r.namespaced,
                   "kind": r.kind, "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
        })
        .collect();
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": list})
}

/// Three test API servers, one per cluster of `testdata/apply-basic`, and a kubeconfig in
/// `dir` whose contexts `dev`, `int` and `web` reach them with `token`.
pub(crate) async fn three_clusters(
    dir: &std::path::Path,
    token: &str,
) -> ([ApiServer; 3], std::path::PathBuf) {
    let servers = [
        ApiServer::start().await,
        ApiServer::start().await,
        ApiServer::start().await,
    ];
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        ApiServer::kubeconfig_for(
            &[
                ("dev", &servers[0]),
                ("int", &servers[1]),
                ("web", &servers[2]),
            ],
            token,
        ),
    )
    .unwrap();
    (servers, kubeconfig)
}
