//! The Kubernetes API, as the rollout uses it: a client per cluster (its kubeconfig context,
//! or the in-cluster service account of a Jenkins agent), and server-side apply of one
//! object with policyrun as the field manager. Messages name the cluster, context and object,
//! never a token or certificate, and what the server says is cleaned of the credential the
//! client sent (`credentials`).
//!
//! Every URL is built from path segments that are percent-encoded here: kube puts names,
//! namespaces and discovery's group and version into its paths as they are, so a Role named
//! `cluster-admin#x` would have reached `…/clusterroles/cluster-admin` with its query cut
//! off, and one named `x?force=true&` would have added query parameters.

use std::collections::HashMap;
use std::path::Path;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::client::{ClientBuilder, ConfigExt};
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{self, ApiCapabilities, ApiResource, Scope};
use serde_json::Value;
use tower::buffer::BufferLayer;

use super::credentials::HideCredentialsLayer;

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
    client(config).map_err(|e| {
        format!(
            "cannot build a client for context `{context}`: {}",
            describe(&e)
        )
    })
}

/// kube's client for `config`, with the `Authorization` header added above a layer that
/// hides the credential in every answer. kube adds the header inside its own stack, where
/// no layer of ours can see it; so the header-making part of the configuration (token,
/// token file, basic auth, auth provider, exec plugin) is taken out of the configuration
/// kube builds from and applied on top, as kube would apply it. A configuration that
/// authenticates by client certificate (kube's layer is then none) is built as it is.
fn client(config: Config) -> Result<kube::Client, kube::Error> {
    let authorization = config.auth_layer()?;
    let mut below = config;
    if authorization.is_some() {
        let auth = &mut below.auth_info;
        auth.token = None;
        auth.token_file = None;
        auth.username = None;
        auth.password = None;
        auth.auth_provider = None;
        auth.exec = None;
    }
    // kube's refreshing authentication (a token file, an exec plugin) clones the service
    // below it, and kube's own stack is boxed, not `Clone`: a buffer in between is.
    let builder = ClientBuilder::try_from(below)?
        .with_layer(&BufferLayer::<hyper::Request<kube::client::Body>>::new(
            1024,
        ))
        .with_layer(&HideCredentialsLayer::default());
    Ok(match authorization {
        Some(authorization) => builder.with_layer(&authorization).build(),
        None => builder.build(),
    })
}

/// `text` as one path segment of a request URL: every byte but RFC 3986's unreserved ones
/// (letters, digits, `-`, `.`, `_`, `~`) percent-encoded, as the API server decodes it.
/// What cannot be one segment is refused: empty, `.` or `..` (a path would resolve them),
/// or holding `/` (the API server decodes `%2F` before it splits the path, so the name
/// would become two segments — a subresource, say). The API server refuses such names
/// itself; `what` names the text in the message.
pub(crate) fn path_segment(what: &str, text: &str) -> Result<String, String> {
    if text.is_empty() || text == "." || text == ".." || text.contains('/') {
        return Err(format!(
            "{what} `{}` cannot be a path segment of a request (empty, `.`, `..` or holding `/`)",
            crate::model::text::visible(text)
        ));
    }
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    Ok(out)
}

/// A value in a field selector (`metadata.name=<value>`), escaped as the API server's
/// `fields.EscapeValue` does: `\`, `,` and `=` would otherwise end the value and start
/// another term (a name `x,metadata.namespace=y` would select something else). The query
/// string encoding of the whole selector is kube's.
pub(crate) fn field_selector_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
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
        // Discovery puts the group and version into its path (`/apis/<group>/<version>`)
        // as they are; the core group is `/api/<version>`.
        let encoded_group = if group.is_empty() {
            String::new()
        } else {
            path_segment("the API group", group)
                .map_err(|e| format!("{e} (apiVersion `{api_version}`)"))?
        };
        let encoded_version = path_segment("the API version", version)
            .map_err(|e| format!("{e} (apiVersion `{api_version}`)"))?;
        let gvk = GroupVersionKind::gvk(&encoded_group, &encoded_version, kind);
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

/// The API of a resource, namespaced or cluster-wide, with every segment of its path
/// encoded: the group, version and plural come from discovery, the namespace from an
/// object.
pub(crate) fn resource_api(
    client: &kube::Client,
    resource: &ApiResource,
    namespace: Option<&str>,
) -> Result<Api<DynamicObject>, String> {
    let mut encoded = resource.clone();
    encoded.group = if resource.group.is_empty() {
        String::new()
    } else {
        path_segment("the API group", &resource.group)?
    };
    encoded.version = path_segment("the API version", &resource.version)?;
    encoded.plural = path_segment("the resource", &resource.plural)?;
    // kube builds the path from `api_version`, `<group>/<version>`.
    encoded.api_version = if encoded.group.is_empty() {
        encoded.version.clone()
    } else {
        format!("{}/{}", encoded.group, encoded.version)
    };
    Ok(match namespace {
        Some(namespace) => Api::namespaced_with(
            client.clone(),
            &path_segment("the namespace", namespace)?,
            &encoded,
        ),
        None => Api::all_with(client.clone(), &encoded),
    })
}

/// An object's API: where requests about it go, and its name, as the object has it and as
/// the one path segment kube appends to the resource's path.
pub(crate) struct ObjectApi {
    pub(crate) api: Api<DynamicObject>,
    pub(crate) name: String,
    pub(crate) segment: String,
}

/// The API of an object's resource (namespaced or cluster-wide), once its kind is resolved.
pub(crate) fn api_for(
    client: &kube::Client,
    resources: &Resources,
    object: &Value,
) -> Result<ObjectApi, String> {
    let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
    let (Some(api_version), Some(kind), Some(name)) =
        (text("/apiVersion"), text("/kind"), text("/metadata/name"))
    else {
        return Err("not a Kubernetes object (apiVersion, kind and metadata.name needed)".into());
    };
    let Some((resource, capabilities)) = resources.get(api_version, kind) else {
        return Err(format!("{api_version} {kind} was not looked up"));
    };
    let namespace = match capabilities.scope {
        Scope::Namespaced => {
            let Some(namespace) = text("/metadata/namespace") else {
                return Err(format!(
                    "{kind} {name} is namespaced but names no namespace"
                ));
            };
            Some(namespace)
        }
        Scope::Cluster => None,
    };
    let api = resource_api(client, resource, namespace)?;
    let segment = path_segment(&format!("the name of this {kind}"), name)?;
    Ok(ObjectApi {
        api,
        name: name.to_owned(),
        segment,
    })
}

/// Server-side applies one object and returns what the server answered (the live object).
/// Its kind must have been resolved in `resources`.
pub async fn apply(
    client: &kube::Client,
    resources: &Resources,
    object: &Value,
    options: ApplyOptions,
) -> Result<Value, String> {
    let ObjectApi { api, segment, .. } = api_for(client, resources, object)?;
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = options.force_conflicts;
    params.dry_run = options.dry_run;
    let patch = Patch::Apply(object);
    let applied = retrying(|| api.patch(&segment, &params, &patch))
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
    let ObjectApi { api, segment, .. } = api_for(client, resources, object)?;
    let patch = Patch::Merge(patch);
    let params = PatchParams::default();
    let patched = retrying(|| api.patch(&segment, &params, &patch))
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
    let ObjectApi { api, segment, .. } = api_for(client, resources, object)?;
    match retrying(|| api.get_opt(&segment)).await {
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
