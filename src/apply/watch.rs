//! Waiting for one object to become ready by watching it, as `kubectl rollout status` does,
//! so that a rollout is seen the moment it finishes and an idle stage sends no requests.
//! The object is read once, then followed from that resourceVersion. A watch that drops
//! (a server timeout, a broken connection) is resumed from the last version seen; one whose
//! version the server no longer keeps (410 Gone), or that cannot be opened at all, starts
//! over from a fresh read, so a cluster that refuses watches is still read, only less often.

use std::pin::pin;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{DynamicObject, WatchEvent, WatchParams};
use serde_json::Value;

use super::Cancel;
use super::kubeapi::{self, Resources};
use super::readiness::{self, Readiness};

/// How often a quiet watch looks at the clock and for Ctrl-C.
const LOOK_UP: Duration = Duration::from_millis(200);

/// The longest a single watch request asks the server to stay open; it is resumed after.
const WATCH_SECONDS: u32 = 290;

/// Follows one object until it is ready, has failed, `limit` has passed or `cancel` is
/// cancelled; returns the last readiness and how long it waited. `retry` caps the pause
/// before reading again after a watch could not be opened or ended without news.
pub async fn wait(
    client: &kube::Client,
    resources: &Resources,
    object: &Value,
    limit: Duration,
    retry: Duration,
    cancel: &Cancel,
    on_waiting: impl Fn(&str),
) -> (Readiness, Duration) {
    let started = Instant::now();
    let (api, name) = match kubeapi::api_for(client, resources, object) {
        Ok(found) => found,
        Err(problem) => return (Readiness::Failed(problem), Duration::ZERO),
    };
    let first_pause = Duration::from_millis(50).min(retry);
    let mut pause = first_pause;
    let mut last = Readiness::Waiting("not read yet".into());
    // Where to follow from; none means: read the object (again) first.
    let mut version: Option<String> = None;
    loop {
        if version.is_none() {
            match kubeapi::retrying(|| api.get_opt(&name)).await {
                Ok(Some(live)) => {
                    version = live.metadata.resource_version.clone();
                    last = of(&live);
                }
                Ok(None) => {
                    // Not there (yet): follow from now, whatever it becomes.
                    version = Some("0".into());
                    last = Readiness::Waiting("not found".into());
                }
                Err(error) => {
                    last = Readiness::Waiting(format!(
                        "cannot read it: {}",
                        kubeapi::api_error(&error)
                    ));
                }
            }
        }
        if let Some(done) = decided(&last, started, limit, cancel) {
            return done;
        }
        if let Readiness::Waiting(why) = &last {
            on_waiting(why);
        }
        let mut news = false;
        if let Some(from) = version.clone() {
            let left = limit.saturating_sub(started.elapsed());
            let seconds = u32::try_from(left.as_secs().saturating_add(1))
                .unwrap_or(WATCH_SECONDS)
                .clamp(1, WATCH_SECONDS);
            let params = WatchParams::default()
                .fields(&format!("metadata.name={name}"))
                .timeout(seconds);
            match api.watch(&params, &from).await {
                Ok(events) => {
                    let mut events = pin!(events);
                    loop {
                        let left = limit.saturating_sub(started.elapsed());
                        let next = tokio::time::timeout(LOOK_UP.min(left), events.next()).await;
                        let event = match next {
                            Err(_quiet) => {
                                if let Some(done) = decided(&last, started, limit, cancel) {
                                    return done;
                                }
                                continue;
                            }
                            // Closed by the server or broken off: resume from `version`.
                            Ok(None) | Ok(Some(Err(_))) => break,
                            Ok(Some(Ok(event))) => event,
                        };
                        match event {
                            WatchEvent::Added(live) | WatchEvent::Modified(live) => {
                                news = true;
                                version = live.metadata.resource_version.clone();
                                last = of(&live);
                            }
                            WatchEvent::Deleted(gone) => {
                                news = true;
                                version = gone.metadata.resource_version.clone();
                                last = Readiness::Waiting("deleted".into());
                            }
                            WatchEvent::Bookmark(mark) => {
                                version = Some(mark.metadata.resource_version);
                            }
                            WatchEvent::Error(_gone_or_refused) => {
                                // 410 Gone, or the server's refusal: read afresh.
                                version = None;
                                break;
                            }
                        }
                        if let Some(done) = decided(&last, started, limit, cancel) {
                            return done;
                        }
                        if let Readiness::Waiting(why) = &last {
                            on_waiting(why);
                        }
                    }
                }
                // Watching refused or unreachable: read again after a pause.
                Err(_) => version = None,
            }
        }
        if news {
            pause = first_pause;
        } else {
            let left = limit.saturating_sub(started.elapsed());
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(retry);
        }
    }
}

/// The readiness of a live object.
fn of(live: &DynamicObject) -> Readiness {
    match serde_json::to_value(live) {
        Ok(value) => readiness::of(&value),
        Err(error) => Readiness::Waiting(format!("cannot read its status: {error}")),
    }
}

/// The end of the wait, if it has come: an answer, the limit passed, or Ctrl-C.
fn decided(
    last: &Readiness,
    started: Instant,
    limit: Duration,
    cancel: &Cancel,
) -> Option<(Readiness, Duration)> {
    let waited = started.elapsed();
    match last {
        Readiness::Waiting(what) if cancel.is_cancelled() => Some((
            Readiness::Failed(format!("interrupted while waiting: {what}")),
            waited,
        )),
        Readiness::Waiting(_) if waited < limit => None,
        other => Some((other.clone(), waited)),
    }
}
