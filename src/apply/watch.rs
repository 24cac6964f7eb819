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
use super::kubeapi::{self, ObjectApi, Resources};
use super::readiness::{self, Readiness};

/// How often a quiet watch looks at the clock and for Ctrl-C.
const LOOK_UP: Duration = Duration::from_millis(200);

/// The longest a single watch request asks the server to stay open; it is resumed after.
const WATCH_SECONDS: u32 = 290;

/// Follows one object until it is ready, has failed, `limit` has passed or `cancel` is
/// cancelled; returns the last readiness and how long it waited. `retry` caps the pause
/// before reading again after a watch could not be opened or ended without news.
pub(crate) async fn wait(
    client: &kube::Client,
    resources: &Resources,
    object: &Value,
    limit: Duration,
    retry: Duration,
    cancel: &Cancel,
    on_waiting: impl Fn(&str),
) -> (Readiness, Duration) {
    let started = Instant::now();
    let object_api = match kubeapi::api_for(client, resources, object) {
        Ok(found) => found,
        Err(problem) => return (Readiness::Failed(problem), Duration::ZERO),
    };
    let first_pause = Duration::from_millis(50).min(retry);
    let mut pause = first_pause;
    let mut following = Following {
        last: Readiness::Waiting("not read yet".into()),
        version: None,
        started,
        limit,
        cancel,
    };
    loop {
        if following.version.is_none() {
            following.read(&object_api).await;
        }
        if let Some(done) = following.decided() {
            return done;
        }
        if let Readiness::Waiting(why) = &following.last {
            on_waiting(why);
        }
        let mut news = false;
        if let Some(from) = following.version.clone() {
            match following.watch(&object_api, &from, &on_waiting).await {
                WatchEnded::Decided(done) => return done,
                WatchEnded::WithNews => news = true,
                WatchEnded::WithoutNews => {}
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

/// One object's wait as it goes.
struct Following<'a> {
    last: Readiness,
    /// Where to follow from; none means: read the object (again) first.
    version: Option<String>,
    started: Instant,
    limit: Duration,
    cancel: &'a Cancel,
}

/// How one watch request ended.
enum WatchEnded {
    /// The wait is over: an answer, the limit passed, or Ctrl-C.
    Decided((Readiness, Duration)),
    /// Closed, broken off or refused after the object changed: follow again at once.
    WithNews,
    /// Closed, broken off or refused without a change: pause before following again.
    WithoutNews,
}

impl Following<'_> {
    /// Reads the object afresh, to follow it from its current version.
    async fn read(&mut self, object: &ObjectApi) {
        match kubeapi::retrying(|| object.api.get_opt(&object.segment)).await {
            Ok(Some(live)) => {
                self.version = live.metadata.resource_version.clone();
                self.last = of(&live);
            }
            Ok(None) => {
                // Not there (yet): follow from now, whatever it becomes.
                self.version = Some("0".into());
                self.last = Readiness::Waiting("not found".into());
            }
            Err(error) => {
                self.last =
                    Readiness::Waiting(format!("cannot read it: {}", kubeapi::api_error(&error)));
            }
        }
    }

    /// Follows the object with one watch request from `from`, until the wait is decided
    /// or the request ends. A watch that drops is resumed from the last version seen; one
    /// the server refuses (410 Gone among others) or that cannot be opened leaves no
    /// version, so the object is read afresh.
    async fn watch(
        &mut self,
        object: &ObjectApi,
        from: &str,
        on_waiting: &impl Fn(&str),
    ) -> WatchEnded {
        let left = self.limit.saturating_sub(self.started.elapsed());
        let seconds = u32::try_from(left.as_secs().saturating_add(1))
            .unwrap_or(WATCH_SECONDS)
            .clamp(1, WATCH_SECONDS);
        let selector = format!(
            "metadata.name={}",
            kubeapi::field_selector_value(&object.name)
        );
        let params = WatchParams::default().fields(&selector).timeout(seconds);
        let mut news = false;
        let events = match object.api.watch(&params, from).await {
            Ok(events) => events,
            // Watching refused or unreachable: read again after a pause.
            Err(_) => {
                self.version = None;
                return WatchEnded::WithoutNews;
            }
        };
        let mut events = pin!(events);
        loop {
            let left = self.limit.saturating_sub(self.started.elapsed());
            let next = tokio::time::timeout(LOOK_UP.min(left), events.next()).await;
            let event = match next {
                Err(_quiet) => {
                    if let Some(done) = self.decided() {
                        return WatchEnded::Decided(done);
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
                    self.version = live.metadata.resource_version.clone();
                    self.last = of(&live);
                }
                WatchEvent::Deleted(gone) => {
                    news = true;
                    self.version = gone.metadata.resource_version.clone();
                    self.last = Readiness::Waiting("deleted".into());
                }
                WatchEvent::Bookmark(mark) => {
                    self.version = Some(mark.metadata.resource_version);
                }
                WatchEvent::Error(_gone_or_refused) => {
                    // 410 Gone, or the server's refusal: read afresh.
                    self.version = None;
                    break;
                }
            }
            if let Some(done) = self.decided() {
                return WatchEnded::Decided(done);
            }
            if let Readiness::Waiting(why) = &self.last {
                on_waiting(why);
            }
        }
        if news {
            WatchEnded::WithNews
        } else {
            WatchEnded::WithoutNews
        }
    }

    /// The end of the wait, if it has come: an answer, the limit passed, or Ctrl-C.
    fn decided(&self) -> Option<(Readiness, Duration)> {
        let waited = self.started.elapsed();
        match &self.last {
            Readiness::Waiting(what) if self.cancel.is_cancelled() => Some((
                Readiness::Failed(format!("interrupted while waiting: {what}")),
                waited,
            )),
            Readiness::Waiting(_) if waited < self.limit => None,
            other => Some((other.clone(), waited)),
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
