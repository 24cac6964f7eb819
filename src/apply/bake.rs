//! The bake: after a stage became ready, the cluster runs the new release for a while and
//! Prometheus is asked, every interval, whether it is still healthy — no blocking alert
//! firing, every required expression true. Readiness is necessary, not sufficient: a release
//! that starts failing a minute after it became ready must not reach the next cluster. The
//! first sample that is not clean ends the bake and fails the stage, and a sample that cannot
//! be taken fails it too ("cannot verify health"): the bake fails closed. A sample's work is
//! linear in what Prometheus answers, however many alerts fire, and it stops at once when
//! the rollout is cancelled.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::Cancel;
use super::prometheus::{self, Alert, INTERRUPTED, Prometheus, Sample};
use crate::model::events::{Event, Events};
use crate::model::outcome::{Outcome, Stage, Status};

/// Check name of a cluster's bake in the reports.
pub(crate) const BAKE: &str = "bake";

/// The longest bake a configuration may ask for: a day.
const MAX_DURATION: u64 = 24 * 60 * 60;
/// Attempts per query before a sample counts as not taken.
const ATTEMPTS: u32 = 3;
/// How often a log gets a line about a bake that goes on.
const LOG_EVERY: Duration = Duration::from_secs(30);
/// The most blocking alerts a sample names; the others are counted. A line for each of
/// 80,000 alerts helps no reader, and a report that size helps no CI.
const MOST_NAMED: usize = 10;
/// The largest credential file read: a token is a few kilobytes.
const MAX_CREDENTIAL_BYTES: u64 = 64 << 10;

/// A `[cluster.bake]` (over `[apply.bake]`) that cannot be used; `key` names the table
/// (`cluster[0].bake`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{key}.duration: {seconds} seconds is more than a day ({MAX_DURATION})")]
    Duration { key: String, seconds: u64 },
    #[error("{key}.interval: {seconds} is out of range (1 to 3600 seconds)")]
    Interval { key: String, seconds: u64 },
    #[error("{key}.cluster_label: `{label}` is not a Prometheus label name")]
    ClusterLabel { key: String, label: String },
    /// `which`: `alerts` or `require[i]`.
    #[error("{key}.{which}: an empty expression")]
    EmptyExpression { key: String, which: String },
    #[error("{key}.prometheus: the server to ask is needed when `duration` is set")]
    NoServer { key: String },
    #[error("{key}.prometheus: {problem}")]
    Url { key: String, problem: UrlProblem },
    /// `what`: `bearer_token` or `basic_auth_password`.
    #[error("{key}: {what}_file and {what}_env are two sources for one secret: name one")]
    TwoSources { key: String, what: &'static str },
    #[error("{key}.{what}_file: empty")]
    EmptyFile { key: String, what: &'static str },
    #[error("{key}.{what}_env: `{name}` is not an environment variable name")]
    EnvName {
        key: String,
        what: &'static str,
        name: String,
    },
    #[error("{key}: a bearer token and basic authentication are two credentials: name one")]
    TwoCredentials { key: String },
    #[error("{key}.basic_auth_user: must be non-empty and hold no `:`")]
    BasicUser { key: String },
    #[error("{key}: basic_auth_user needs basic_auth_password_file or basic_auth_password_env")]
    NoPassword { key: String },
    #[error("{key}: a basic_auth_password needs basic_auth_user")]
    NoUser { key: String },
}

/// What is wrong with a `prometheus` URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("not a URL")]
    NotAUrl,
    #[error("must start with http:// or https://")]
    Scheme,
    #[error("names no host")]
    NoHost,
    /// The URL is shown in reports.
    #[error(
        "holds credentials; the URL is shown in reports: use bearer_token_* or basic_auth_* instead"
    )]
    Credentials,
    #[error("must not hold a query")]
    Query,
}

/// Why the bake's server cannot be asked: the credential cannot be read, or no client can be
/// built. Checked before a stage applies anything.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error(transparent)]
    Client(#[from] prometheus::ClientError),
}

/// A credential that cannot be read when the bake starts; the message names where it was
/// looked for, never what was found.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CredentialError {
    #[error("the environment variable {name} is not set (the Prometheus credential)")]
    EnvUnset { name: String },
    /// `place`: `the file <path>` or `$NAME`.
    #[error("the Prometheus credential in {place} is empty")]
    Empty { place: String },
    /// A credential file (named by the key that configured it) that is not read.
    #[error("{key}: {} {problem}", .path.display())]
    File {
        key: String,
        path: PathBuf,
        problem: FileProblem,
    },
}

/// Why a credential file is not read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileProblem {
    /// `kind`: `a FIFO`, `a directory`, ...
    #[error("is {kind}, not a regular file: the Prometheus credential is read only from one")]
    NotAFile { kind: &'static str },
    #[error("cannot be read (the Prometheus credential file): {0}")]
    Unreadable(#[source] std::io::Error),
    #[error("is larger than {} KiB: not a credential", MAX_CREDENTIAL_BYTES >> 10)]
    TooLarge,
    #[error("is not UTF-8 text")]
    NotText,
}

/// A query of the bake that the server did not answer before the stage applied anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{expression}`: {why}")]
pub(crate) struct PreflightError {
    pub(crate) expression: String,
    /// What the last attempt failed with (cleaned of the credential), or `interrupted`.
    pub(crate) why: String,
}

/// `[apply.bake]` and `[cluster.bake]` as written: a cluster's keys over `[apply.bake]`'s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSettings {
    duration: Option<u64>,
    prometheus: Option<String>,
    interval: Option<u64>,
    alerts: Option<String>,
    cluster_label: Option<String>,
    ignore: Option<Vec<String>>,
    require: Option<Vec<String>>,
    bearer_token_file: Option<String>,
    bearer_token_env: Option<String>,
    basic_auth_user: Option<String>,
    basic_auth_password_file: Option<String>,
    basic_auth_password_env: Option<String>,
}

/// Where a credential is read from when the bake starts; never the credential itself, so
/// the configuration can be printed and compared. A file comes with the key that named it
/// (`cluster[0].bake.bearer_token_file`), for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File { key: String, path: PathBuf },
    Env(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Bearer(SecretSource),
    Basic {
        user: String,
        password: SecretSource,
    },
}

/// One cluster's bake, checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// Zero: no bake.
    pub duration: Duration,
    pub interval: Duration,
    /// The server's base URL (empty when there is no bake).
    pub prometheus: String,
    /// Each result series is a blocking alert, unless its `alertname` is ignored.
    pub alerts: String,
    pub ignore: BTreeSet<String>,
    /// Each must return a sample with a non-zero value at every sample.
    pub require: Vec<String>,
    pub credential: Option<Credential>,
}

impl Settings {
    pub(crate) fn enabled(&self) -> bool {
        !self.duration.is_zero()
    }

    /// The settings of the cluster `cluster`, from its own table (`key`, for messages) over
    /// the defaults.
    pub(crate) fn resolve(
        key: &str,
        cluster: &str,
        own: &RawSettings,
        defaults: &RawSettings,
    ) -> Result<Settings, SettingsError> {
        let key_ = || key.to_owned();
        let pick = |mine: &Option<String>, theirs: &Option<String>| {
            mine.clone().or_else(|| theirs.clone())
        };
        let duration = own.duration.or(defaults.duration).unwrap_or(0);
        if duration > MAX_DURATION {
            return Err(SettingsError::Duration {
                key: key_(),
                seconds: duration,
            });
        }
        let interval = own.interval.or(defaults.interval).unwrap_or(15);
        if !(1..=3600).contains(&interval) {
            return Err(SettingsError::Interval {
                key: key_(),
                seconds: interval,
            });
        }
        let label = pick(&own.cluster_label, &defaults.cluster_label)
            .unwrap_or_else(|| "cluster".to_owned());
        if !label.is_empty() && !is_label_name(&label) {
            return Err(SettingsError::ClusterLabel { key: key_(), label });
        }
        let alerts = match pick(&own.alerts, &defaults.alerts) {
            Some(expression) => expression,
            // Cluster names are letters, digits, `-`, `_` and `.`: nothing to escape.
            None if label.is_empty() => r#"ALERTS{alertstate="firing"}"#.to_owned(),
            None => format!(r#"ALERTS{{alertstate="firing", {label}="{cluster}"}}"#),
        };
        let require = own
            .require
            .clone()
            .or_else(|| defaults.require.clone())
            .unwrap_or_default();
        for (i, expression) in std::iter::once(&alerts).chain(&require).enumerate() {
            if expression.trim().is_empty() {
                let which = if i == 0 {
                    "alerts".to_owned()
                } else {
                    format!("require[{}]", i - 1)
                };
                return Err(SettingsError::EmptyExpression { key: key_(), which });
            }
        }
        let ignore: BTreeSet<String> = own
            .ignore
            .clone()
            .or_else(|| defaults.ignore.clone())
            .unwrap_or_default()
            .into_iter()
            .collect();
        let credential = credential(key, own, defaults)?;
        let prometheus = pick(&own.prometheus, &defaults.prometheus).unwrap_or_default();
        if duration > 0 {
            if prometheus.is_empty() {
                return Err(SettingsError::NoServer { key: key_() });
            }
            check_url(key, &prometheus)?;
        } else if !prometheus.is_empty() {
            check_url(key, &prometheus)?;
        }
        Ok(Settings {
            duration: Duration::from_secs(duration),
            interval: Duration::from_secs(interval),
            prometheus: prometheus.trim_end_matches('/').to_owned(),
            alerts,
            ignore,
            require,
            credential,
        })
    }

    /// The `Authorization` header value, read now from the file or variable configured.
    fn authorization(&self) -> Result<Option<String>, CredentialError> {
        Ok(match &self.credential {
            None => None,
            Some(Credential::Bearer(source)) => Some(format!("Bearer {}", source.read()?)),
            Some(Credential::Basic { user, password }) => {
                let pair = format!("{user}:{}", password.read()?);
                Some(format!(
                    "Basic {}",
                    data_encoding::BASE64.encode(pair.as_bytes())
                ))
            }
        })
    }

    /// A client for this cluster's server, the credential read. Done before the stage
    /// applies anything: a bake that could never run must not leave a cluster changed.
    pub(crate) fn connect(&self) -> Result<Prometheus, ConnectError> {
        let timeout = (self.interval / 2).clamp(Duration::from_secs(2), Duration::from_secs(10));
        Ok(Prometheus::new(
            &self.prometheus,
            self.authorization()?,
            timeout,
        )?)
    }
}

impl SecretSource {
    /// The secret, without a trailing line break; the message names where it was looked
    /// for, never what was found.
    fn read(&self) -> Result<String, CredentialError> {
        let text = match self {
            SecretSource::File { key, path } => CredentialFile { key, path }.read()?,
            SecretSource::Env(name) => {
                std::env::var(name).map_err(|_| CredentialError::EnvUnset { name: name.clone() })?
            }
        };
        let text = text.trim_end_matches(['\r', '\n']).to_owned();
        if text.is_empty() {
            return Err(CredentialError::Empty {
                place: self.describe(),
            });
        }
        Ok(text)
    }

    fn describe(&self) -> String {
        match self {
            SecretSource::File { path, .. } => format!("the file {}", path.display()),
            SecretSource::Env(name) => format!("${name}"),
        }
    }
}

/// A credential file, named by its key (`cluster[0].bake.bearer_token_file`) and path.
/// Only a regular file is read (a symbolic link to one is followed, as Kubernetes mounts
/// secrets): opening a FIFO for reading waits for a writer, forever and deaf to SIGTERM,
/// and a device or `/proc` file can be endless. Messages name the key and the file, never
/// what is in it.
struct CredentialFile<'a> {
    key: &'a str,
    path: &'a Path,
}

impl CredentialFile<'_> {
    /// Its text: the type is looked at before opening, the file is opened without blocking
    /// (so a FIFO swapped in after the look still returns at once) and looked at again
    /// through the open handle, and no more than [`MAX_CREDENTIAL_BYTES`] is read.
    fn read(&self) -> Result<String, CredentialError> {
        let before = std::fs::metadata(self.path).map_err(|e| self.unreadable(e))?;
        if !before.is_file() {
            return Err(self.refused(&before));
        }
        self.read_opened()
    }

    /// The second half of [`CredentialFile::read`]: what is opened may not be what was
    /// looked at before.
    fn read_opened(&self) -> Result<String, CredentialError> {
        use std::io::Read;
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
        }
        let file = options.open(self.path).map_err(|e| self.unreadable(e))?;
        let opened = file.metadata().map_err(|e| self.unreadable(e))?;
        if !opened.is_file() {
            return Err(self.refused(&opened));
        }
        let mut bytes = Vec::new();
        file.take(MAX_CREDENTIAL_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.unreadable(e))?;
        if bytes.len() as u64 > MAX_CREDENTIAL_BYTES {
            return Err(self.problem(FileProblem::TooLarge));
        }
        String::from_utf8(bytes).map_err(|_| self.problem(FileProblem::NotText))
    }

    fn problem(&self, problem: FileProblem) -> CredentialError {
        CredentialError::File {
            key: self.key.to_owned(),
            path: self.path.to_path_buf(),
            problem,
        }
    }

    fn refused(&self, metadata: &std::fs::Metadata) -> CredentialError {
        self.problem(FileProblem::NotAFile {
            kind: file_kind(metadata),
        })
    }

    fn unreadable(&self, error: std::io::Error) -> CredentialError {
        self.problem(FileProblem::Unreadable(error))
    }
}

/// What a file that is not a regular file is, for messages.
fn file_kind(metadata: &std::fs::Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
    }
    "not a regular file"
}

fn credential(
    key: &str,
    own: &RawSettings,
    defaults: &RawSettings,
) -> Result<Option<Credential>, SettingsError> {
    let key_ = || key.to_owned();
    // A cluster that names any credential key names its whole credential.
    let mentions = |raw: &RawSettings| {
        raw.bearer_token_file.is_some()
            || raw.bearer_token_env.is_some()
            || raw.basic_auth_user.is_some()
            || raw.basic_auth_password_file.is_some()
            || raw.basic_auth_password_env.is_some()
    };
    let (raw, raw_key) = if mentions(own) {
        (own, key)
    } else {
        (defaults, "apply.bake")
    };
    let source = |file: &Option<String>, env: &Option<String>, what: &'static str| match (file, env)
    {
        (Some(_), Some(_)) => Err(SettingsError::TwoSources { key: key_(), what }),
        (Some(path), None) if path.is_empty() => {
            Err(SettingsError::EmptyFile { key: key_(), what })
        }
        (Some(path), None) => Ok(Some(SecretSource::File {
            key: format!("{raw_key}.{what}_file"),
            path: PathBuf::from(path),
        })),
        (None, Some(name)) if !is_env_name(name) => Err(SettingsError::EnvName {
            key: key_(),
            what,
            name: name.clone(),
        }),
        (None, Some(name)) => Ok(Some(SecretSource::Env(name.clone()))),
        (None, None) => Ok(None),
    };
    let bearer = source(
        &raw.bearer_token_file,
        &raw.bearer_token_env,
        "bearer_token",
    )?;
    let password = source(
        &raw.basic_auth_password_file,
        &raw.basic_auth_password_env,
        "basic_auth_password",
    )?;
    match (bearer, &raw.basic_auth_user, password) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err(SettingsError::TwoCredentials { key: key_() })
        }
        (Some(token), None, None) => Ok(Some(Credential::Bearer(token))),
        (None, Some(user), Some(password)) if !user.contains(':') && !user.is_empty() => {
            Ok(Some(Credential::Basic {
                user: user.clone(),
                password,
            }))
        }
        (None, Some(_), Some(_)) => Err(SettingsError::BasicUser { key: key_() }),
        (None, Some(_), None) => Err(SettingsError::NoPassword { key: key_() }),
        (None, None, Some(_)) => Err(SettingsError::NoUser { key: key_() }),
        (None, None, None) => Ok(None),
    }
}

/// `http://` or `https://`, a host, no credentials (a URL is printed in messages), no query.
fn check_url(key: &str, url: &str) -> Result<(), SettingsError> {
    let refuse = |problem| {
        Err(SettingsError::Url {
            key: key.to_owned(),
            problem,
        })
    };
    let Ok(uri) = url.parse::<hyper::Uri>() else {
        return refuse(UrlProblem::NotAUrl);
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return refuse(UrlProblem::Scheme);
    }
    let Some(authority) = uri.authority() else {
        return refuse(UrlProblem::NoHost);
    };
    if authority.as_str().contains('@') {
        return refuse(UrlProblem::Credentials);
    }
    if uri.query().is_some() {
        return refuse(UrlProblem::Query);
    }
    Ok(())
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_env_name(name: &str) -> bool {
    is_label_name(name)
}

/// What one sample found.
#[derive(Debug, Clone, PartialEq)]
enum Health {
    /// `held`: requirements that held.
    Clean { held: usize },
    /// What is wrong, one line each.
    Unhealthy(Vec<String>),
    /// The sample could not be taken.
    Unknown(String),
    /// The rollout was cancelled while the sample was taken.
    Interrupted,
}

/// Bakes one cluster: samples until the duration is over, the first unclean sample or
/// `cancel` is cancelled. The outcome is the bake's result for the reports; how far it is
/// goes to `events` while it lasts.
pub(crate) async fn run(
    cluster: &str,
    settings: &Settings,
    server: &Prometheus,
    cancel: &Cancel,
    events: &dyn Events,
) -> Outcome {
    let started = Instant::now();
    let shown = BakeProgress::start(cluster, settings, events);
    let mut samples = 0usize;
    let result = loop {
        let health = sample(settings, server, cancel).await;
        samples += 1;
        let into = started.elapsed();
        match health {
            Health::Clean { held } => shown.update(into, held),
            Health::Unhealthy(problems) => {
                break (
                    Status::Failed,
                    format!(
                        "not healthy at sample {samples}, {} into {}: {}; the rollout stops here",
                        clock(into),
                        clock(settings.duration),
                        problems.join("; ")
                    ),
                );
            }
            Health::Unknown(why) => {
                break (
                    Status::Failed,
                    format!(
                        "cannot verify health at sample {samples}, {} into {}: {why}",
                        clock(into),
                        clock(settings.duration)
                    ),
                );
            }
            Health::Interrupted => break interrupted(started, settings, samples - 1),
        }
        if into >= settings.duration {
            break (
                Status::Passed,
                format!(
                    "clean for {}: {samples} samples from {}, no blocking alert{}",
                    clock(settings.duration),
                    server.url(),
                    match settings.require.len() {
                        0 => String::new(),
                        1 => ", the requirement held".to_owned(),
                        n => format!(", all {n} requirements held"),
                    }
                ),
            );
        }
        // The next sample an interval after this one, the last one at the very end.
        let next = (started + into + settings.interval).min(started + settings.duration);
        if !wait_until(next, &shown, started, cancel).await {
            break interrupted(started, settings, samples);
        }
    };
    shown.finish();
    Outcome::new(Stage::Apply, BAKE, result.0)
        .cluster(cluster)
        .subject(format!("bake {cluster}"))
        .message(result.1)
}

/// The result of a bake the rollout's cancellation ended, after `clean` clean samples.
fn interrupted(started: Instant, settings: &Settings, clean: usize) -> (Status, String) {
    (
        Status::Failed,
        format!(
            "interrupted while baking, {} into {}, after {clean} clean samples",
            clock(started.elapsed()),
            clock(settings.duration)
        ),
    )
}

/// Asks every query of the bake once, before the stage applies anything: a server that
/// cannot be reached, a credential it refuses or an expression it cannot parse must not
/// leave a cluster changed with a bake that could never pass. What the answers say does not
/// matter yet: an alert firing before the stage may be what the stage fixes. Once `cancel`
/// is cancelled, a failed query is not tried again.
pub(crate) async fn preflight(
    settings: &Settings,
    server: &Prometheus,
    cancel: &Cancel,
) -> Result<(), PreflightError> {
    for expression in std::iter::once(&settings.alerts).chain(&settings.require) {
        with_retries(settings, cancel, || server.query(expression, cancel))
            .await
            .map_err(|why| PreflightError {
                expression: expression.clone(),
                why,
            })?;
    }
    Ok(())
}

/// The outcome of a bake `--no-bake` skipped: the reports say so.
pub(crate) fn skipped(cluster: &str, why: &str) -> Outcome {
    Outcome::new(Stage::Apply, BAKE, Status::Skipped)
        .cluster(cluster)
        .subject(format!("bake {cluster}"))
        .message(why)
}

/// Sleeps until `until`, keeping progress live; false when cancelled.
async fn wait_until(
    until: Instant,
    shown: &BakeProgress<'_>,
    started: Instant,
    cancel: &Cancel,
) -> bool {
    loop {
        if cancel.is_cancelled() {
            return false;
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        shown.tick(started.elapsed());
        tokio::time::sleep((until - now).min(Duration::from_millis(100))).await;
    }
}

/// One sample: the alerts, then every requirement. Linear in the answers: the firing
/// series are counted, at most [`MOST_NAMED`] of them are named, each looked up among the
/// alerts of its name only; cancellation is looked for at every item.
async fn sample(settings: &Settings, server: &Prometheus, cancel: &Cancel) -> Health {
    let firing =
        match with_retries(settings, cancel, || server.query(&settings.alerts, cancel)).await {
            Ok(series) => series,
            Err(_) if cancel.is_cancelled() => return Health::Interrupted,
            Err(why) => return Health::Unknown(format!("alerts `{}`: {why}", settings.alerts)),
        };
    let mut named: Vec<&Sample> = Vec::new();
    let mut blocking = 0usize;
    for series in &firing {
        if cancel.is_cancelled() {
            return Health::Interrupted;
        }
        let ignored = series
            .labels
            .get("alertname")
            .is_some_and(|name| settings.ignore.contains(name));
        if !ignored {
            blocking += 1;
            if named.len() < MOST_NAMED {
                named.push(series);
            }
        }
    }
    let mut problems = Vec::new();
    if blocking > 0 {
        // Annotations and the time an alert became active are only in the alert list; an
        // alert is named by its labels without it.
        let known = match with_retries(settings, cancel, || server.alerts(cancel)).await {
            Ok(known) => known,
            Err(_) if cancel.is_cancelled() => return Health::Interrupted,
            Err(_) => Vec::new(),
        };
        let Some(index) = AlertIndex::new(&known, cancel) else {
            return Health::Interrupted;
        };
        problems.extend(named.iter().map(|series| describe_alert(series, &index)));
        if blocking > named.len() {
            problems.push(format!(
                "and {} more blocking alerts",
                blocking - named.len()
            ));
        }
    }
    let mut held = 0;
    for expression in &settings.require {
        match with_retries(settings, cancel, || server.query(expression, cancel)).await {
            Err(_) if cancel.is_cancelled() => return Health::Interrupted,
            Err(why) => return Health::Unknown(format!("requirement `{expression}`: {why}")),
            Ok(series) => match requirement(&series) {
                None => held += 1,
                Some(seen) => {
                    problems.push(format!("requirement `{expression}` did not hold: {seen}"))
                }
            },
        }
    }
    if problems.is_empty() {
        Health::Clean { held }
    } else {
        Health::Unhealthy(problems)
    }
}

/// The alert list by `alertname`, so that naming a series looks only at its namesakes.
struct AlertIndex<'a>(HashMap<&'a str, Vec<&'a Alert>>);

impl<'a> AlertIndex<'a> {
    /// `None` when cancelled while it is built.
    fn new(alerts: &'a [Alert], cancel: &Cancel) -> Option<AlertIndex<'a>> {
        let mut by_name: HashMap<&str, Vec<&Alert>> = HashMap::new();
        for alert in alerts {
            if cancel.is_cancelled() {
                return None;
            }
            if let Some(name) = alert.labels.get("alertname") {
                by_name.entry(name).or_default().push(alert);
            }
        }
        Some(AlertIndex(by_name))
    }
}

/// None when the requirement holds (a sample with a value other than zero); else what was
/// seen.
fn requirement(series: &[Sample]) -> Option<String> {
    if series.iter().any(|s| s.value != 0.0 && !s.value.is_nan()) {
        return None;
    }
    if series.is_empty() {
        return Some("no samples".to_owned());
    }
    let shown: Vec<String> = series
        .iter()
        .take(3)
        .map(|s| format!("{} {}", prometheus::label_set(&s.labels), s.value))
        .collect();
    let more = series.len().saturating_sub(shown.len());
    Some(format!(
        "{}{}",
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    ))
}

/// `alert HighErrorRate {cluster="dev", severity="page"} firing since …: summary`.
fn describe_alert(series: &Sample, known: &AlertIndex<'_>) -> String {
    let mut labels = series.labels.clone();
    labels.remove("__name__");
    labels.remove("alertstate");
    let name = labels.remove("alertname");
    let alert = name
        .as_deref()
        .and_then(|name| known.0.get(name))
        .and_then(|namesakes| {
            namesakes
                .iter()
                .find(|alert| labels.iter().all(|(k, v)| alert.labels.get(k) == Some(v)))
        });
    let name = name.unwrap_or_else(|| "(no alertname)".to_owned());
    let mut text = format!("alert {name} {}", prometheus::label_set(&labels));
    if let Some(alert) = alert {
        text.push_str(&format!(" {}", alert.state));
        if let Some(since) = &alert.active_at {
            text.push_str(&format!(" since {since}"));
        }
        let words = alert
            .annotations
            .get("summary")
            .or_else(|| alert.annotations.get("description"));
        if let Some(words) = words {
            text.push_str(&format!(": {}", one_line(words)));
        }
    } else {
        text.push_str(" firing");
    }
    text
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A query, tried again after a short pause when it fails, all within the interval.
async fn with_retries<T, F, Fut>(
    settings: &Settings,
    cancel: &Cancel,
    mut query: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let mut pause = (settings.interval / 8).max(Duration::from_millis(100));
    let mut attempt = 1;
    loop {
        match query().await {
            Ok(found) => return Ok(found),
            Err(_) if cancel.is_cancelled() => return Err(INTERRUPTED.into()),
            Err(why) if attempt >= ATTEMPTS => {
                return Err(format!("{why} (tried {attempt} times)"));
            }
            Err(_) => {
                if cancel
                    .unless_cancelled(tokio::time::sleep(pause))
                    .await
                    .is_none()
                {
                    return Err(INTERRUPTED.into());
                }
                pause *= 2;
                attempt += 1;
            }
        }
    }
}

/// `3m20s`, `10m`, `45s`.
fn clock(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// How far a bake is, reported as events while it lasts.
struct BakeProgress<'a> {
    events: &'a dyn Events,
    duration: Duration,
    requirements: usize,
    held: std::sync::atomic::AtomicUsize,
}

impl<'a> BakeProgress<'a> {
    fn start(cluster: &str, settings: &Settings, events: &'a dyn Events) -> BakeProgress<'a> {
        events.emit(Event::Begin {
            what: &format!("{cluster}: baking"),
            total: None,
            log_every: Some(LOG_EVERY),
        });
        events.emit(Event::LogLine(&format!(
            "{cluster}: baking for {}, asking {} every {}",
            clock(settings.duration),
            settings.prometheus,
            clock(settings.interval)
        )));
        BakeProgress {
            events,
            duration: settings.duration,
            requirements: settings.require.len(),
            held: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// `1m of 10m, no alerts, 2 of 2 requirements hold`.
    fn status(&self, into: Duration) -> String {
        let held = self.held.load(std::sync::atomic::Ordering::SeqCst);
        format!(
            "{} of {}, no alerts{}",
            clock(into),
            clock(self.duration),
            match self.requirements {
                0 => String::new(),
                n => format!(", {held} of {n} requirements hold"),
            }
        )
    }

    fn update(&self, into: Duration, held: usize) {
        self.held.store(held, std::sync::atomic::Ordering::SeqCst);
        self.tick(into);
    }

    fn tick(&self, into: Duration) {
        self.events.emit(Event::Progress {
            done: 0,
            status: &self.status(into),
        });
    }

    fn finish(&self) {
        self.events.emit(Event::End);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> RawSettings {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_cluster_s_keys_override_the_defaults_and_the_alerts_are_its_own() {
        let defaults = raw(r#"
            duration = 600
            prometheus = "http://prometheus:9090/"
            ignore = ["Watchdog"]
            bearer_token_env = "PROMETHEUS_TOKEN"
        "#);
        let dev =
            Settings::resolve("cluster[0].bake", "dev", &raw("interval = 5"), &defaults).unwrap();
        assert_eq!(dev.duration, Duration::from_secs(600));
        assert_eq!(dev.interval, Duration::from_secs(5));
        assert_eq!(dev.prometheus, "http://prometheus:9090");
        assert_eq!(dev.alerts, r#"ALERTS{alertstate="firing", cluster="dev"}"#);
        assert!(dev.ignore.contains("Watchdog"));
        assert_eq!(
            dev.credential,
            Some(Credential::Bearer(SecretSource::Env(
                "PROMETHEUS_TOKEN".into()
            )))
        );
        let web = Settings::resolve(
            "cluster[2].bake",
            "web",
            &raw(r#"
                cluster_label = ""
                basic_auth_user = "ops"
                basic_auth_password_file = "/run/secrets/prometheus"
            "#),
            &defaults,
        )
        .unwrap();
        assert_eq!(web.alerts, r#"ALERTS{alertstate="firing"}"#);
        assert_eq!(
            web.credential,
            Some(Credential::Basic {
                user: "ops".into(),
                password: SecretSource::File {
                    key: "cluster[2].bake.basic_auth_password_file".into(),
                    path: "/run/secrets/prometheus".into()
                }
            })
        );
        // No bake configured: the default, which changes nothing.
        let none = Settings::resolve("cluster[0].bake", "dev", &raw(""), &raw("")).unwrap();
        assert!(!none.enabled());
    }

    #[test]
    fn bad_settings_name_their_key() {
        let refused = |text: &str| {
            Settings::resolve("cluster[1].bake", "int", &raw(text), &raw("")).unwrap_err()
        };
        let key = || "cluster[1].bake".to_owned();
        assert_eq!(
            refused("duration = 60"),
            SettingsError::NoServer { key: key() }
        );
        let with_password = refused("duration = 60\nprometheus = \"http://user:pw@p:9090\"");
        assert_eq!(
            with_password,
            SettingsError::Url {
                key: key(),
                problem: UrlProblem::Credentials
            }
        );
        assert!(!with_password.to_string().contains("pw"), "{with_password}");
        assert!(matches!(
            refused("duration = 60\nprometheus = \"ftp://p\""),
            SettingsError::Url {
                problem: UrlProblem::Scheme,
                ..
            }
        ));
        assert_eq!(
            refused("interval = 0"),
            SettingsError::Interval {
                key: key(),
                seconds: 0
            }
        );
        assert!(matches!(
            refused("duration = 100000000"),
            SettingsError::Duration { .. }
        ));
        assert!(matches!(
            refused("cluster_label = \"a-b\""),
            SettingsError::ClusterLabel { label, .. } if label == "a-b"
        ));
        assert!(matches!(
            refused("require = [\" \"]"),
            SettingsError::EmptyExpression { which, .. } if which == "require[0]"
        ));
        assert_eq!(
            refused("bearer_token_env = \"A\"\nbearer_token_file = \"/t\""),
            SettingsError::TwoSources {
                key: key(),
                what: "bearer_token"
            }
        );
        assert!(matches!(
            refused("bearer_token_env = \"A\"\nbasic_auth_user = \"u\""),
            SettingsError::TwoCredentials { .. }
        ));
        assert!(matches!(
            refused("basic_auth_user = \"u\""),
            SettingsError::NoPassword { .. }
        ));
        let env = refused("bearer_token_env = \"1X\"");
        assert!(matches!(&env, SettingsError::EnvName { name, .. } if name == "1X"));
        assert_eq!(
            env.to_string(),
            "cluster[1].bake.bearer_token_env: `1X` is not an environment variable name"
        );
    }

    #[test]
    fn credentials_are_read_when_the_bake_starts_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret-token\n").unwrap();
        let source = SecretSource::File {
            key: "apply.bake.bearer_token_file".into(),
            path: file.clone(),
        };
        let settings = Settings {
            credential: Some(Credential::Bearer(source.clone())),
            ..Settings::default()
        };
        assert_eq!(
            settings.authorization().unwrap().as_deref(),
            Some("Bearer s3cret-token")
        );
        let basic = Settings {
            credential: Some(Credential::Basic {
                user: "ops".into(),
                password: source.clone(),
            }),
            ..Settings::default()
        };
        assert_eq!(
            basic.authorization().unwrap().as_deref(),
            Some("Basic b3BzOnMzY3JldC10b2tlbg==")
        );
        std::fs::write(&file, "\n").unwrap();
        let empty = settings.authorization().unwrap_err();
        assert!(
            matches!(&empty, CredentialError::Empty { place } if place.contains("token")),
            "{empty}"
        );
        let missing = Settings {
            credential: Some(Credential::Bearer(SecretSource::Env(
                "POLICYRUN_TEST_NO_SUCH_VARIABLE".into(),
            ))),
            ..Settings::default()
        };
        assert!(matches!(
            missing.authorization().unwrap_err(),
            CredentialError::EnvUnset { name } if name == "POLICYRUN_TEST_NO_SUCH_VARIABLE"
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_credential_file_that_is_not_a_regular_file_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let key = "cluster[0].bake.bearer_token_file";
        let fifo = dir.path().join("token");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let read = |path: &Path| CredentialFile { key, path }.read();
        let refused = |path: &Path| match read(path).unwrap_err() {
            CredentialError::File {
                key: named,
                problem,
                ..
            } if named == key => problem,
            other => panic!("{other}"),
        };
        fn not_a_file(problem: &FileProblem, kind: &str) -> bool {
            matches!(problem, FileProblem::NotAFile { kind: k } if *k == kind)
        }
        let error = read(&fifo).unwrap_err();
        assert!(
            error.to_string().starts_with(&format!(
                "{key}: {} is a FIFO, not a regular file",
                fifo.display()
            )),
            "{error}"
        );
        assert!(not_a_file(&refused(&fifo), "a FIFO"));
        // Swapped in after the first look: the open does not wait for a writer either.
        let error = CredentialFile { key, path: &fifo }
            .read_opened()
            .unwrap_err();
        assert!(
            matches!(&error, CredentialError::File { problem, .. } if not_a_file(problem, "a FIFO")),
            "{error}"
        );
        assert!(not_a_file(&refused(dir.path()), "a directory"));
        assert!(not_a_file(&refused(Path::new("/dev/zero")), "a device"));
        let missing = refused(&dir.path().join("missing"));
        assert!(matches!(missing, FileProblem::Unreadable(_)), "{missing}");
        let large = dir.path().join("large");
        std::fs::write(&large, vec![b'x'; 70 << 10]).unwrap();
        let large = refused(&large);
        assert!(matches!(large, FileProblem::TooLarge));
        assert_eq!(large.to_string(), "is larger than 64 KiB: not a credential");
        // A link to a regular file is read, as Kubernetes mounts secrets.
        let token = dir.path().join("real-token");
        std::fs::write(&token, "t0ken\n").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&token, &link).unwrap();
        assert_eq!(read(&link).unwrap(), "t0ken\n");
    }

    fn series(labels: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        }
    }

    #[test]
    fn a_requirement_holds_on_any_non_zero_sample() {
        assert_eq!(requirement(&[series(&[], 0.0), series(&[], 2.0)]), None);
        assert_eq!(requirement(&[]).as_deref(), Some("no samples"));
        assert_eq!(
            requirement(&[series(&[("job", "app")], 0.0)]).as_deref(),
            Some(r#"{job="app"} 0"#)
        );
        assert!(requirement(&[series(&[], f64::NAN)]).is_some());
    }

    #[test]
    fn an_alert_is_named_with_its_labels_summary_and_start() {
        let firing = series(
            &[
                ("__name__", "ALERTS"),
                ("alertname", "AppErrors"),
                ("alertstate", "firing"),
                ("cluster", "dev"),
            ],
            1.0,
        );
        let known = vec![Alert {
            labels: [("alertname", "AppErrors"), ("cluster", "dev")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: [("summary".to_owned(), "errors\n  in dev".to_owned())].into(),
            state: "firing".into(),
            active_at: Some("2026-12-02T05:00:00Z".into()),
        }];
        let cancel = Cancel::new();
        assert_eq!(
            describe_alert(&firing, &AlertIndex::new(&known, &cancel).unwrap()),
            r#"alert AppErrors {cluster="dev"} firing since 2026-12-02T05:00:00Z: errors in dev"#
        );
        assert_eq!(
            describe_alert(&firing, &AlertIndex::new(&[], &cancel).unwrap()),
            r#"alert AppErrors {cluster="dev"} firing"#
        );
        // Cancelled: the index is not built.
        cancel.cancel();
        assert!(AlertIndex::new(&known, &cancel).is_none());
    }

    #[test]
    fn durations_read_as_a_clock() {
        assert_eq!(clock(Duration::from_secs(200)), "3m20s");
        assert_eq!(clock(Duration::from_secs(600)), "10m");
        assert_eq!(clock(Duration::from_secs(45)), "45s");
    }
}
