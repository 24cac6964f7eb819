//! The bake's view of a cluster's health: instant queries and the alert list of Prometheus'
//! HTTP API (`/api/v1/query`, `/api/v1/alerts`). Everything that is not a clean answer —
//! no connection, an HTTP error, a query error, a result that is not a vector — is an error
//! the bake fails closed on. The credential goes into one header marked sensitive and is
//! never part of a message; messages name the server by the URL configured, which holds no
//! credentials (the configuration refuses them there). A server that echoes the header
//! back gets its answer cleaned of every form of the credential before a word of it is read
//! (`credentials`). An answer may hold tens of thousands of series: reading it is one pass
//! that looks for cancellation at every item, and a request in flight ends at once when
//! the rollout is cancelled.

use std::collections::BTreeMap;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::Cancel;
use super::credentials::Redactor;

/// Responses larger than this are refused: a health answer is a few series, and a server
/// (or something impersonating one) must not make the rollout hold gigabytes.
const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// What a request cancelled by the rollout fails with.
pub(crate) const INTERRUPTED: &str = "interrupted";

/// One series of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

/// One alert as Prometheus' rule manager holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Alert {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) state: String,
    pub(crate) active_at: Option<String>,
}

/// Why no client for the bake's server can be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("the Prometheus credential holds characters a header cannot carry")]
    Header,
    #[error("cannot load the system's TLS roots: {0}")]
    TlsRoots(#[source] std::io::Error),
}

/// A Prometheus server, as one cluster's bake queries it.
pub(crate) struct Prometheus {
    base: String,
    authorization: Option<HeaderValue>,
    /// Hides the credential in whatever the server says.
    redactor: Redactor,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl Prometheus {
    /// `base` is the server's URL (`http://host:9090`, or with a path prefix);
    /// `authorization` the whole `Authorization` header value, if any. Each request may take
    /// `timeout`.
    pub(crate) fn new(
        base: &str,
        authorization: Option<String>,
        timeout: Duration,
    ) -> Result<Prometheus, ClientError> {
        let (authorization, redactor) = match authorization {
            None => (None, Redactor::default()),
            Some(value) => {
                let mut header = HeaderValue::from_str(&value).map_err(|_| ClientError::Header)?;
                header.set_sensitive(true);
                let redactor = Redactor::of_header(header.as_bytes());
                (Some(header), redactor)
            }
        };
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .map_err(ClientError::TlsRoots)?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Prometheus {
            base: base.trim_end_matches('/').to_owned(),
            authorization,
            redactor,
            client: Client::builder(TokioExecutor::new()).build(tls),
            timeout,
        })
    }

    /// The URL as configured, for messages.
    pub(crate) fn url(&self) -> &str {
        &self.base
    }

    /// Evaluates `query` now; only an instant vector is an answer.
    pub(crate) async fn query(&self, query: &str, cancel: &Cancel) -> Result<Vec<Sample>, String> {
        let body = format!("query={}", form_encode(query));
        let data = self.call("/api/v1/query", Some(body), cancel).await?;
        let kind = data.get("resultType").and_then(Value::as_str).unwrap_or("");
        if kind != "vector" {
            return Err(format!(
                "the query returned a {} where a vector was needed (wrap a scalar in `vector(...)`)",
                if kind.is_empty() {
                    "result of no type"
                } else {
                    kind
                }
            ));
        }
        let Some(series) = data.get("result").and_then(Value::as_array) else {
            return Err("the answer has no `result` list".into());
        };
        let mut samples = Vec::with_capacity(series.len());
        for one in series {
            if cancel.is_cancelled() {
                return Err(INTERRUPTED.into());
            }
            samples.push(sample(one)?);
        }
        Ok(samples)
    }

    /// The alerts Prometheus' rules hold now, firing or pending.
    pub(crate) async fn alerts(&self, cancel: &Cancel) -> Result<Vec<Alert>, String> {
        let data = self.call("/api/v1/alerts", None, cancel).await?;
        let Some(alerts) = data.get("alerts").and_then(Value::as_array) else {
            return Err("the answer has no `alerts` list".into());
        };
        let mut found = Vec::with_capacity(alerts.len());
        for alert in alerts {
            if cancel.is_cancelled() {
                return Err(INTERRUPTED.into());
            }
            found.push(Alert {
                labels: strings(alert.get("labels")),
                annotations: strings(alert.get("annotations")),
                state: alert
                    .get("state")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                active_at: alert
                    .get("activeAt")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        }
        Ok(found)
    }

    /// One request; the `data` member of a `success` answer. Whatever it fails with is
    /// cleaned of the credential once more, whatever its source.
    async fn call(
        &self,
        path: &str,
        form: Option<String>,
        cancel: &Cancel,
    ) -> Result<Value, String> {
        match cancel.unless_cancelled(self.exchange(path, form)).await {
            None => Err(INTERRUPTED.into()),
            Some(Ok(data)) => Ok(data),
            Some(Err(problem)) => Err(self.redactor.clean(&problem).into_owned()),
        }
    }

    async fn exchange(&self, path: &str, form: Option<String>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let mut request = hyper::Request::builder().uri(&url);
        request = match &form {
            Some(_) => request
                .method(hyper::Method::POST)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded"),
            None => request.method(hyper::Method::GET),
        };
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let request = request
            .body(Full::new(Bytes::from(form.unwrap_or_default())))
            .map_err(|e| format!("{url}: not a request URL: {e}"))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("{url}: {}", connection_problem(&e)))?;
            let status = response.status();
            let body = http_body_util::Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| format!("{url}: reading the answer failed: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("{url}: no answer within {:?}", self.timeout))??;
        // Before anything reads it: cut short, an echoed token could lose its end and no
        // longer be recognised.
        let body = self.redactor.clean_bytes(&body);
        let mut parsed: Option<Value> = serde_json::from_slice(&body).ok();
        let succeeded = parsed
            .as_ref()
            .and_then(|a| a.get("status"))
            .is_some_and(|s| s == "success");
        if succeeded && status.is_success() {
            // Taken, not copied: an answer may be megabytes.
            return Ok(parsed
                .as_mut()
                .and_then(|a| a.get_mut("data"))
                .map(Value::take)
                .unwrap_or(Value::Null));
        }
        let answer = parsed.as_ref();
        let field = |name: &str| {
            answer
                .and_then(|a| a.get(name))
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        if field("status") == "error" {
            return Err(format!(
                "{url}: HTTP {}: {} error: {}",
                status.as_u16(),
                field("errorType"),
                excerpt(field("error"))
            ));
        }
        Err(format!(
            "{url}: HTTP {}{}",
            status.as_u16(),
            match answer {
                Some(_) => ", an answer that is not Prometheus' API".to_owned(),
                None => format!(": {}", excerpt(&String::from_utf8_lossy(&body))),
            }
        ))
    }
}

/// What went wrong on the way to the server, with the causes hyper keeps in its chain
/// ("connection refused", a TLS failure) instead of its bare "client error (Connect)".
fn connection_problem(error: &(dyn std::error::Error + 'static)) -> String {
    let mut words = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        words.push_str(": ");
        words.push_str(&inner.to_string());
        cause = inner.source();
    }
    words
}

/// At most 200 characters of a server's words, control characters escaped.
fn excerpt(text: &str) -> String {
    crate::model::text::excerpt(text, 200)
}

fn strings(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// `{"metric": {...}, "value": [time, "1.5"]}`; values are strings in Prometheus' API, with
/// `NaN`, `+Inf` and `-Inf` spelt out.
fn sample(series: &Value) -> Result<Sample, String> {
    let value = series
        .get("value")
        .and_then(|v| v.get(1))
        .and_then(Value::as_str)
        .ok_or("a series without a value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other
            .parse::<f64>()
            .map_err(|_| format!("a series with the value `{}`", excerpt(other)))?,
    };
    Ok(Sample {
        labels: strings(series.get("metric")),
        value,
    })
}

/// `application/x-www-form-urlencoded`: unreserved characters as they are, space as `+`,
/// every other byte as `%XX`.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `{a="1", b="2"}`, as PromQL writes a label set; `{}` when empty.
pub(crate) fn label_set(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", serde_json::Value::String(v.clone())))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queries_are_form_encoded() {
        assert_eq!(
            form_encode(r#"ALERTS{alertstate="firing", cluster="dev"} > 0"#),
            "ALERTS%7Balertstate%3D%22firing%22%2C+cluster%3D%22dev%22%7D+%3E+0"
        );
        assert_eq!(form_encode("a+b/c"), "a%2Bb%2Fc");
    }

    #[test]
    fn samples_read_prometheus_values_including_the_special_ones() {
        let one = |value: &str| sample(&json!({"metric": {"a": "1"}, "value": [1.5, value]}));
        assert_eq!(one("0.25").unwrap().value, 0.25);
        assert_eq!(one("+Inf").unwrap().value, f64::INFINITY);
        assert!(one("NaN").unwrap().value.is_nan());
        assert!(one("x").is_err());
        assert!(sample(&json!({"metric": {}})).is_err());
        assert_eq!(
            one("1").unwrap().labels,
            BTreeMap::from([("a".to_owned(), "1".to_owned())])
        );
    }

    #[test]
    fn label_sets_are_written_as_promql_writes_them() {
        let labels = BTreeMap::from([
            ("cluster".to_owned(), "dev".to_owned()),
            ("severity".to_owned(), "page \"now\"".to_owned()),
        ]);
        assert_eq!(
            label_set(&labels),
            r#"{cluster="dev", severity="page \"now\""}"#
        );
        assert_eq!(label_set(&BTreeMap::new()), "{}");
    }

    #[test]
    fn a_server_s_words_are_cut_short_and_escaped() {
        assert_eq!(excerpt("bad\u{1b}[31m"), "bad\\u{1b}[31m");
        let long = "x".repeat(500);
        assert_eq!(excerpt(&long).chars().count(), 201);
    }
}
