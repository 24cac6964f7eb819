//! The Kubernetes API, as the rollout uses it: a client per cluster (its kubeconfig context,
//! or the in-cluster service account of a Jenkins agent), and server-side apply of one
//! object with policyrun as the field manager. Messages name the cluster, context and object,
//! never a token or certificate.

use std::collections::HashMap;
use std::path::Path;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{self, ApiCapabilities, ApiResource, Scope};
use serde_json::Value;

/// The field manager of every apply.
pub(crate) const FIELD_MANAGER: &str = "policyrun";

/// A client for the cluster reached through `context`. The kubeconfig is `kubeconfig`, else
/// `$KUBECONFIG` or `~/.kube/config`; when there is none and the process runs in a pod
/// (`KUBERNETES_SERVICE_HOST` set), the pod's service account. Must run inside a Tokio runtime.
pub async fn connect(context: &str, kubeconfig: Option<&Path>) -> Result<kube::Client, String> {
    let file = match kubeconfig {
        Some(path) => Some(Kubeconfig::read_from(path).map_err(|e| {
            format!(
                "cannot read the kubeconfig {}: {}",
                path.display(),
                describe(&e)
            )
        })?),
        None => Kubeconfig::read().ok(),
    };
    let config = match file {
        Some(file) => {
            let options = KubeConfigOptions {
                context: Some(context.to_owned()),
                ..KubeConfigOptions::default()
            };
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| format!("kubeconfig context `{context}`: {}", describe(&e)))?
        }
        None if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => Config::incluster()
            .map_err(|e| format!("in-cluster service account: {}", describe(&e)))?,
        None => {
            return Err(format!(
                "no kubeconfig (--kubeconfig, $KUBECONFIG or ~/.kube/config) to reach context `{context}`, and not running in a cluster"
            ));
        }
    };
    kube::Client::try_from(config).map_err(|e| {
        format!(
            "cannot build a client for context `{context}`: {}",
            describe(&e)
        )
    })
}

/// An error's text, which for kube's configuration errors names files and fields, not
/// their contents; the whole source chain, so that the cause is not lost.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// How to apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Server-side dry run: the server validates and answers, nothing is stored.
    pub dry_run: bool,
    /// Take fields another manager owns instead of reporting the conflict.
    pub force_conflicts: bool,
}

/// Discovered resources, by group/version/kind, so that each group version is asked once.
#[derive(Default)]
pub struct Resources {
    known: HashMap<(String, String, String), (ApiResource, ApiCapabilities)>,
}

impl Resources {
    /// The resource of an apiVersion and kind, discovered on first use.
    pub async fn resolve(
        &mut self,
        client: &kube::Client,
        api_version: &str,
        kind: &str,
    ) -> Result<(ApiResource, ApiCapabilities), String> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let key = (group.to_owned(), version.to_owned(), kind.to_owned());
        if let Some(found) = self.known.get(&key) {
            return Ok(found.clone());
        }
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let found = retrying(|| discovery::pinned_kind(client, &gvk))
            .await
            .map_err(|e| format!("{api_version} {kind} is not served: {}", describe(&e)))?;
        self.known.insert(key, found.clone());
        Ok(found)
    }

    /// A resource resolved before.
    pub(crate) fn get(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Option<&(ApiResource, ApiCapabilities)> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.known
            .get(&(group.to_owned(), version.to_owned(), kind.to_owned()))
    }
}

/// The API of an object's resource (namespaced or cluster-wide), once its kind is resolved.
pub(crate) fn api_for(
    client: &kube::Client,
    resources: &Resources,
    object: &Value,
) -> Result<(Api<DynamicObject>, String), String> {
    let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
    let (Some(api_version), Some(kind), Some(name)) =
        (text("/apiVersion"), text("/kind"), text("/metadata/name"))
    else {
        return Err("not a Kubernetes object (apiVersion, kind and metadata.name needed)".into());
    };
    let Some((resource, capabilities)) = resources.get(api_version, kind) else {
        return Err(format!("{api_version} {kind} was not looked up"));
    };
    let api = match capabilities.scope {
        Scope::Namespaced => {
            let Some(namespace) = text("/metadata/namespace") else {
                return Err(format!(
                    "{kind} {name} is namespaced but names no namespace"
                ));
            };
            Api::namespaced_with(client.clone(), namespace, resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), resource),
    };
    Ok((api, name.to_owned()))
}

/// Server-side applies one object and returns what the server answered (the live object).
/// Its kind must have been resolved in `resources`.
pub async fn apply(
    client: &kube::Client,
    resources: &Resources,
    object: &Value,
    options: ApplyOptions,
) -> Result<Value, String> {
    let (api, name) = api_for(client, resources, object)?;
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = options.force_conflicts;
    params.dry_run = options.dry_run;
    let patch = Patch::Apply(object);
    let applied = retrying(|| api.patch(&name, &params, &patch))
        .await
        .map_err(|e| api_error(&e))?;
    serde_json::to_value(applied).map_err(|e| e.to_string())
}

/// A JSON merge patch of one object (`--on-failure pause`); not a field-manager apply, so
/// that the next apply takes the field back.
pub(crate) async fn merge_patch(
    client: &kube::Client,
    resources: &Resources,
    object: &Value,
    patch: &Value,
) -> Result<Value, String> {
    let (api, name) = api_for(client, resources, object)?;
    let patch = Patch::Merge(patch);
    let params = PatchParams::default();
    let patched = retrying(|| api.patch(&name, &params, &patch))
        .await
        .map_err(|e| api_error(&e))?;
    serde_json::to_value(patched).map_err(|e| e.to_string())
}

/// The live object, `None` when it does not exist.
pub(crate) async fn get(
    client: &kube::Client,
    resources: &Resources,
    object: &Value,
) -> Result<Option<Value>, String> {
    let (api, name) = api_for(client, resources, object)?;
    match retrying(|| api.get_opt(&name)).await {
        Ok(Some(live)) => serde_json::to_value(live)
            .map(Some)
            .map_err(|e| e.to_string()),
        Ok(None) => Ok(None),
        Err(e) => Err(api_error(&e)),
    }
}

/// Attempts at a request that fails for a passing reason (throttled, a server error, a
/// dropped connection); applies are idempotent, so repeating one is safe.
const ATTEMPTS: u32 = 5;

/// Runs `request`, again after 0.1, 0.2, 0.4 and 0.8 seconds while it fails transiently.
/// A refusal (403, 404, 409, 422) is final at once.
pub(crate) async fn retrying<T, F, Fut>(mut request: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut delay = std::time::Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        match request().await {
            Err(error) if attempt < ATTEMPTS && is_transient(&error) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// 429, 5xx, and failures to reach the server at all.
fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code == 429 || status.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// The API server's own words for a refused request (403 forbidden, 409 conflict, 422
/// invalid), which name the fields; other errors with their cause.
pub(crate) fn api_error(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => {
            format!("{} ({}): {}", status.reason, status.code, status.message)
        }
        other => describe(other),
    }
}
