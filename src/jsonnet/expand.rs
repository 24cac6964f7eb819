//! Evaluates entry files with jrsonnet, in parallel, and splits each result into the files the
//! layout commits and the Kubernetes objects later stages check. jrsonnet values are not
//! `Send`, so each worker thread owns its evaluator states and only plain data leaves it.

mod pool;
use super::cpp;

pub use super::stack::WORKER_STACK;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use jrsonnet_evaluator::error::ErrorKind;
use jrsonnet_evaluator::function::CallLocation;
use jrsonnet_evaluator::manifest::JsonFormat;
use jrsonnet_evaluator::trace::{CompactFormat, PathResolver, TraceFormat};
use jrsonnet_evaluator::{Error as JsonnetError, IStr, State, Val};
use jrsonnet_gcmodule::Acyclic;
use jrsonnet_stdlib::TracePrinter;
use rayon::prelude::*;
use serde_json::Value;

use crate::jsonnet::imports::ImportLog;
use crate::jsonnet::sandbox::SandboxResolver;
use crate::jsonnet::stdlib::GateStdlib;
use crate::model::digest::Digest;
use crate::model::events::{Event, Events};
use crate::model::expansion::{
    Entry, Expanded, ExpandedFiles, Failure, Object, Produced, output_prefix,
};
use crate::model::outcome::{Location, ObjectId, pointer_segment};
use crate::model::repository::{Layout, Repository};
use crate::model::text::visible;

/// What the expansion's progress events count, after "expanding N/M".
const COUNTED: &str = "entries";

/// Expands every entry in parallel. Progress (`Begin`, a `Progress` per entry, `End`) and
/// the entries' `std.trace` lines go to `events`; evaluator threads keep their own handle
/// on it, since an entry past its budget is abandoned, not awaited.
pub fn expand_all(repo: &Repository, entries: &[Entry], events: &Arc<dyn Events>) -> Vec<Expanded> {
    expand_all_with(repo, entries, events, |_| None, |_, _| {})
        .into_iter()
        .map(|(expanded, _)| expanded)
        .collect()
}

/// Expands every entry in parallel: the `i`th is taken from `reuse(i)` when that has it
/// (the cache), else evaluated and then handed to `evaluated(i, ..)` (to be cached). The
/// flag says which of the two it was. Events as for `expand_all`.
///
/// Entries evaluate on threads of their own (one per rayon worker), each within the
/// configuration's evaluation budget: an entry past it is an error, and is never handed to
/// `evaluated`. The rayon pool meanwhile stays free for the caller's other work.
pub fn expand_all_with(
    repo: &Repository,
    entries: &[Entry],
    events: &Arc<dyn Events>,
    reuse: impl Fn(usize) -> Option<Expanded> + Sync + Send,
    evaluated: impl Fn(usize, &Expanded) + Sync + Send,
) -> Vec<(Expanded, bool)> {
    events.emit(Event::Begin {
        what: "expanding",
        total: Some(entries.len() as u64),
        log_every: None,
    });
    let progress = Progress::new(events.as_ref());
    let mut slots: Vec<Option<(Expanded, bool)>> = (0..entries.len())
        .into_par_iter()
        .map(|i| {
            let reused = reuse(i).map(|expanded| (expanded, true));
            if reused.is_some() {
                progress.step();
            }
            reused
        })
        .collect();
    let jobs: Vec<(usize, Entry)> = slots
        .iter()
        .enumerate()
        .filter(|(_, slot)| slot.is_none())
        .map(|(i, _)| (i, entries[i].clone()))
        .collect();
    if !jobs.is_empty() {
        let done = pool::evaluate(repo, jobs, rayon::current_num_threads(), events, &progress);
        // Encoded for the cache in parallel, as the evaluations ran.
        done.par_iter()
            .filter(|(_, _, in_budget)| *in_budget)
            .for_each(|(i, expanded, _)| evaluated(*i, expanded));
        for (i, expanded, _) in done {
            slots[i] = Some((expanded, false));
        }
    }
    events.emit(Event::End);
    slots.into_iter().flatten().collect()
}

/// Entries done so far, reported as `Progress` events. One lock, so that the counts reach
/// the sink in order even though workers finish in any order.
struct Progress<'e> {
    events: &'e dyn Events,
    done: Mutex<u64>,
}

impl<'e> Progress<'e> {
    fn new(events: &'e dyn Events) -> Self {
        Progress {
            events,
            done: Mutex::new(0),
        }
    }

    /// One more entry is done.
    fn step(&self) {
        if let Ok(mut done) = self.done.lock() {
            *done += 1;
            self.events.emit(Event::Progress {
                done: *done,
                status: COUNTED,
            });
        }
    }
}

/// Evaluates entries to their manifested JSON text only, as the jsonnet tool would (traces
/// to `events`): the baseline the benchmark compares the whole gate against.
pub fn evaluate_only(
    repo: &Repository,
    entries: &[Entry],
    events: &Arc<dyn Events>,
) -> Vec<Result<String, Failure>> {
    entries
        .par_iter()
        .map_init(
            || Worker::new(repo, events.clone()),
            |worker, entry| {
                let state = worker.state(entry.cluster).clone();
                let _entered = state.enter();
                let value = worker.import(&state, entry)?;
                manifest(&value, repo.indent).map_err(|e| worker.failure(&e))
            },
        )
        .collect()
}

/// Evaluates one file as an entry of `cluster` (index into the configuration) and returns the
/// jsonnet tool's output for it (traces to `events`); used for the library's own tests.
pub fn evaluate_file(
    repo: &Repository,
    cluster: usize,
    path: &Path,
    events: &Arc<dyn Events>,
) -> Result<String, Failure> {
    let mut worker = Worker::new(repo, events.clone());
    let state = worker.state(cluster).clone();
    let _entered = state.enter();
    let entry = Entry {
        cluster,
        path: path.to_path_buf(),
        stem: String::new(),
    };
    let value = worker.import(&state, &entry)?;
    manifest(&value, repo.indent).map_err(|e| worker.failure(&e))
}

/// The evaluator states of one rayon worker, one per cluster: ext vars live in a state and
/// it caches evaluated imports, so a state must not be shared between clusters. Each state
/// has its import log, which lives exactly as long as the state's cache of imports.
struct Worker<'c> {
    repo: &'c Repository,
    states: Vec<Option<(State, ImportLog)>>,
    /// What the states' trace printers printed since the last entry began.
    traces: Rc<RefCell<Vec<String>>>,
    /// Set when nobody waits for this worker's entry any more: its traces are not printed.
    silenced: Arc<AtomicBool>,
    /// Where the states' trace printers send what `std.trace` printed.
    events: Arc<dyn Events>,
}

impl<'c> Worker<'c> {
    fn new(repo: &'c Repository, events: Arc<dyn Events>) -> Self {
        // jrsonnet's depth limit is per thread; raise it to the jsonnet tool's on this one.
        jrsonnet_evaluator::stack::set_stack_depth_limit(repo.max_stack);
        Worker {
            repo,
            states: vec![None; repo.clusters.len()],
            traces: Rc::default(),
            silenced: Arc::default(),
            events,
        }
    }

    /// Traces are not printed once `silenced` is set. Before the first entry only: the
    /// states, built on first use, take the flag with them.
    fn silence_with(&mut self, silenced: Arc<AtomicBool>) {
        self.silenced = silenced;
    }

    fn state(&mut self, cluster: usize) -> &State {
        &self.state_and_log(cluster).0
    }

    fn state_and_log(&mut self, cluster: usize) -> &(State, ImportLog) {
        let repo = self.repo;
        let traces = &self.traces;
        let silenced = &self.silenced;
        let events = &self.events;
        self.states[cluster].get_or_insert_with(|| {
            let context = GateStdlib::new(
                repo.root.clone(),
                Rc::new(SafeTracePrinter {
                    root: repo.root.clone(),
                    printed: traces.clone(),
                    silenced: silenced.clone(),
                    events: events.clone(),
                }),
            );
            for (name, value) in &repo.clusters[cluster].ext_vars {
                context.add_ext_str(name, value);
            }
            let log = ImportLog::new();
            let mut builder = State::builder();
            builder
                .import_resolver(SandboxResolver::recording(
                    repo.root.clone(),
                    repo.jpath.clone(),
                    log.clone(),
                ))
                .context_initializer(context);
            (builder.build(), log)
        })
    }

    /// Evaluates an entry. It is resolved by the state's own resolver, which then knows the
    /// file is parsed: the state may hold it already, read for another entry's `importstr`.
    fn import(&self, state: &State, entry: &Entry) -> Result<Val, Failure> {
        let resolver: &dyn std::any::Any = state.import_resolver();
        let source = match resolver.downcast_ref::<SandboxResolver>() {
            Some(sandbox) => sandbox.entry(&entry.path).map_err(|e| e.to_string()),
            None => Err("internal error: the evaluator has no sandboxed import resolver".into()),
        }
        .map_err(Failure::plain)?;
        state.import_resolved(source).map_err(|e| self.failure(&e))
    }

    /// A panic inside the evaluator becomes this entry's error instead of ending the run;
    /// the worker's states may be mid-borrow afterwards, so they are thrown away.
    fn expand_guarded(&mut self, entry: &Entry) -> Expanded {
        let started = Instant::now();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.expand(entry))) {
            Ok(expanded) => expanded,
            Err(panic) => {
                self.states.iter_mut().for_each(|s| *s = None);
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                Expanded {
                    entry: entry.clone(),
                    cluster: self.repo.clusters[entry.cluster].name.clone(),
                    elapsed: started.elapsed(),
                    result: Err(Failure::plain(format!(
                        "internal error in the jsonnet evaluator: {what} (please report this with the entry)"
                    ))),
                    inputs: None,
                    traces: self.traces.take(),
                }
            }
        }
    }

    fn expand(&mut self, entry: &Entry) -> Expanded {
        let started = Instant::now();
        let cluster = self.repo.clusters[entry.cluster].name.clone();
        let (state, log) = self.state_and_log(entry.cluster).clone();
        self.traces.borrow_mut().clear();
        let mut result = {
            let _entered = state.enter();
            self.import(&state, entry)
                .and_then(|value| self.split(&cluster, entry, &value))
        };
        if let Err(failure) = &mut result {
            self.locate_as_cpp_jsonnet(entry, failure);
        }
        // The entry as the state's resolver found it before the evaluation is the root of
        // its import closure; an entry that did not resolve has no inputs to record.
        let inputs = log.inputs(&self.repo.root, &self.repo.root.join(&entry.path));
        Expanded {
            entry: entry.clone(),
            cluster,
            elapsed: started.elapsed(),
            result,
            inputs,
            traces: self.traces.take(),
        }
    }

    fn split(&self, cluster: &str, entry: &Entry, value: &Val) -> Result<ExpandedFiles, Failure> {
        let prefix = output_prefix(self.repo, cluster, entry);
        let mut out = ExpandedFiles::default();
        match self.repo.layout {
            Layout::PerFile => {
                let text = manifest(value, self.repo.indent).map_err(|e| self.failure(&e))?;
                add_file(&mut out, cluster, entry, Produced::new(prefix, None, text))?;
            }
            Layout::PerItem => {
                for (key, item) in self.items(value)? {
                    check_item_key(&key)?;
                    let text = manifest(&item, self.repo.indent).map_err(|e| self.failure(&e))?;
                    let path = prefix.join(format!("{key}.json"));
                    add_file(
                        &mut out,
                        cluster,
                        entry,
                        Produced::new(path, Some(key), text),
                    )?;
                }
            }
        }
        Ok(out)
    }

    /// The items of a per-item entry: the visible fields of its item map (`items_`, usually
    /// hidden), or of the entry itself when it has no such field.
    fn items(&self, value: &Val) -> Result<Vec<(String, Val)>, Failure> {
        let field = self.repo.items_field.as_str();
        let Some(object) = value.as_obj() else {
            return Err(Failure::plain(format!(
                "layout per-item: the entry must evaluate to an object (a List with `{field}`, or an object of items), got {}",
                value.value_type()
            )));
        };
        let items = if object.has_field_include_hidden(field.into()) {
            // Run the entry's own asserts first. jrsonnet evaluates a field twice when its
            // first read comes from outside and an assert of the object reads it too (the
            // assert's read does not see the pending one); asserting first lets our read
            // reuse the asserts' value, which halves the work for a List with asserts.
            object.run_assertions().map_err(|e| self.failure(&e))?;
            let items = object
                .get(field.into())
                .map_err(|e| self.failure(&e))?
                .unwrap_or(Val::Null);
            items.as_obj().ok_or_else(|| {
                Failure::plain(format!(
                    "layout per-item: field `{field}` must be an object mapping keys to Kubernetes objects, got {}",
                    items.value_type()
                ))
            })?
        } else if object.has_field("kind".into()) && object.has_field("apiVersion".into()) {
            return Err(Failure::plain(format!(
                "layout per-item: the entry is a single Kubernetes object with no `{field}` field; \
                 put it in a List's `{field}` map or use layout = \"per-file\""
            )));
        } else {
            object
        };
        items.run_assertions().map_err(|e| self.failure(&e))?;
        items
            .fields_ex(false)
            .into_iter()
            .map(|key| {
                let value = items
                    .get(key.clone())
                    .map_err(|e| self.failure(&e))?
                    .unwrap_or(Val::Null);
                Ok((key.to_string(), value))
            })
            .collect()
    }

    fn failure(&self, error: &JsonnetError) -> Failure {
        failure_from(&self.repo.root, error)
    }

    /// For the errors jrsonnet locates at the caller (see [`cpp`]), the faulty line as the
    /// C++ jsonnet tool finds it, when its stack passes through the place jrsonnet named.
    fn locate_as_cpp_jsonnet(&self, entry: &Entry, failure: &mut Failure) {
        if !located_at_the_caller(&failure.message) {
            return;
        }
        let Some(Location {
            file,
            line: Some(line),
            column: Some(column),
        }) = failure.location.clone()
        else {
            return;
        };
        let cluster = &self.repo.clusters[entry.cluster];
        let request = cpp::Request {
            root: self.repo.root.clone(),
            jpath: self.repo.jpath.clone(),
            entry: entry.path.clone(),
            ext_vars: cluster.ext_vars.clone().into_iter().collect(),
            max_stack: self.repo.max_stack,
            budget: self.repo.evaluation_budget.min(CPP_LOCATION_BUDGET),
        };
        let Some((message, frames)) = cpp::runtime_error(&request) else {
            return;
        };
        if !frames.iter().any(|f| f.holds(&file, line, column)) {
            return;
        }
        let Some(innermost) = frames.first() else {
            return;
        };
        let relative = |path: &Path| {
            path.strip_prefix(&self.repo.root)
                .unwrap_or(path)
                .to_path_buf()
        };
        failure.location = Some(Location {
            file: relative(&innermost.file),
            line: Some(innermost.line),
            column: Some(innermost.column),
        });
        let mut cpp_stack = format!("    as the C++ jsonnet tool traces it: {message}");
        for frame in frames.iter().take(MAX_STACK_LINES) {
            cpp_stack.push_str(&format!(
                "\n      {}:{}:{}",
                relative(&frame.file).display(),
                frame.line,
                frame.column
            ));
        }
        failure.detail = Some(match failure.detail.take() {
            Some(ours) => format!("{ours}\n{cpp_stack}"),
            None => cpp_stack,
        });
    }
}

/// How long the C++ tool may take to find an error's line: a failed entry is not worth
/// more, and a hostile one must not hold the gate.
const CPP_LOCATION_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// The errors jrsonnet raises with no frame of their own (its `bail!` in the evaluation of
/// an index or an operator), so that its stack names the caller: their messages, as its
/// `Display` writes them (a test pins these).
fn located_at_the_caller(message: &str) -> bool {
    [
        "no such field: ",
        "array out of bounds: ",
        "binary operation ",
    ]
    .iter()
    .any(|start| message.starts_with(start))
}

/// Adds one produced file and the objects in it. Evaluation and the cache both come
/// through here, so a result taken from the cache is built exactly as a fresh one.
fn add_file(
    out: &mut ExpandedFiles,
    cluster: &str,
    entry: &Entry,
    file: Produced,
) -> Result<(), Failure> {
    let value: Value = serde_json::from_str(&file.text).map_err(|e| {
        Failure::plain(format!(
            "{}: the evaluator's output is not valid JSON: {e}",
            file.path.display()
        ))
    })?;
    let Produced {
        path, item, digest, ..
    } = &file;
    // One digest of the text names every object in it (with its place) for the memories
    // of later stages, which then never serialize a value to key it.
    let mut found = Vec::new();
    collect_objects(value, String::new(), &mut found);
    for item_value in found {
        match item_value {
            Ok((pointer, object)) => match identity(&object) {
                Ok(Identity {
                    api_version,
                    kind,
                    namespace,
                    name,
                }) => out.objects.push(Object {
                    id: ObjectId {
                        cluster: cluster.to_owned(),
                        entry: entry.path.clone(),
                        item: item.clone(),
                        api_version,
                        kind,
                        namespace,
                        name,
                    },
                    value: object.into(),
                    file: path.clone(),
                    digest: Some(Digest::of_object_in(digest, &pointer)),
                    pointer,
                }),
                Err(problem) => out.problems.push(format!(
                    "{}{}: {problem}",
                    path.display(),
                    pointer_suffix(&pointer)
                )),
            },
            Err(pointer) => out.problems.push(format!(
                "{}{}: not a Kubernetes object (no apiVersion and kind)",
                path.display(),
                pointer_suffix(&pointer)
            )),
        }
    }
    out.files.push(file);
    Ok(())
}

/// Passes `std.trace` messages on as trace events, as the jsonnet tool prints them
/// (`TRACE: file:line text`), but with the file relative to the repository and the text's
/// control characters escaped: the text comes from the pull request under review and
/// lands in a terminal or CI log.
#[derive(Acyclic)]
struct SafeTracePrinter {
    root: PathBuf,
    /// Every line printed, for the entry's expansion to keep (see `Expanded::traces`).
    printed: Rc<RefCell<Vec<String>>>,
    /// Nobody waits for the entry any more (its budget ran out): print nothing.
    silenced: Arc<AtomicBool>,
    events: Arc<dyn Events>,
}

impl TracePrinter for SafeTracePrinter {
    fn print_trace(&self, location: CallLocation, text: IStr) {
        let place = location
            .0
            .and_then(|span| {
                let file = span.0.source_path().path()?;
                let [at] = span.0.map_source_locations(&[span.1]);
                let file = file.strip_prefix(&self.root).unwrap_or(file);
                Some(format!(" {}:{}", file.display(), at.line))
            })
            .unwrap_or_default();
        let line = format!("TRACE:{} {}\n", visible(&place), visible(&text));
        if self.silenced.load(Ordering::Relaxed) {
            return;
        }
        self.events.emit(Event::Trace(&line));
        self.printed.borrow_mut().push(line);
    }
}

fn manifest(value: &Val, indent: usize) -> jrsonnet_evaluator::Result<String> {
    // The jsonnet tool's layout: sorted keys, `indent` spaces, and a final newline.
    let mut text = value.manifest(JsonFormat::cli(indent))?;
    text.push('\n');
    Ok(text)
}

/// Formats a jsonnet error in the worker (errors are not `Send`): the first line, the
/// whole trace with paths relative to the repository, and the innermost source location.
fn failure_from(root: &Path, error: &JsonnetError) -> Failure {
    let format = CompactFormat {
        resolver: PathResolver::Relative(root.to_path_buf()),
        max_trace: 20,
        padding: 4,
    };
    let detail = format
        .format(error)
        .unwrap_or_else(|_| error.error().to_string());
    let relative = |path: &Path| path.strip_prefix(root).unwrap_or(path).to_path_buf();
    let message = match error.error() {
        // jrsonnet's own wording points at its command line's --max-stack.
        ErrorKind::StackOverflow => "stack overflow: the recursion is deeper than `max_stack` \
             allows (raise it in policyrun.toml if the recursion is intended)"
            .to_owned(),
        // jrsonnet names the file by its absolute path on the agent.
        ErrorKind::ImportBadFileUtf8(path) => format!(
            "{}: not valid UTF-8 text (import and importstr read text; importbin reads bytes)",
            path.path()
                .map_or_else(|| path.to_string(), |p| relative(p).display().to_string())
        ),
        _ => detail.lines().next().unwrap_or_default().to_owned(),
    };
    let stack = compact_stack(&detail.lines().skip(1).collect::<Vec<_>>());
    let location = if let ErrorKind::ImportSyntaxError { path, error } = error.error() {
        let offset = (error.location.1 as usize).min(path.code().len()) as u32;
        let [at] = path.map_source_locations(&[offset]);
        path.source_path().path().map(|file| Location {
            file: relative(file),
            line: Some(at.line),
            column: Some(at.column),
        })
    } else if let Some(import) = message
        .strip_prefix("runtime error: import of `")
        .and_then(|_| trailing_location(&message))
    {
        // The sandbox located the import itself; the stack's first frame is where the
        // imported value was first used.
        Some(import)
    } else {
        error
            .trace()
            .0
            .iter()
            .find_map(|frame| {
                let span = frame.location.as_ref()?;
                let file = span.0.source_path().path()?;
                let [at] = span.0.map_source_locations(&[span.1]);
                Some(Location {
                    file: relative(file),
                    line: Some(at.line),
                    column: Some(at.column),
                })
            })
            .or_else(|| trailing_location(&message))
    };
    Failure {
        message,
        detail: (!stack.trim().is_empty()).then_some(stack),
        location,
    }
}

/// At most this many lines of jsonnet stack in a report; the middle of a longer one goes.
const MAX_STACK_LINES: usize = 40;

/// A jsonnet stack people can read: a frame repeated line after line (deep recursion
/// repeats one call hundreds of times) is shown once with its count, and a stack that is
/// still too long keeps its innermost and outermost frames. jrsonnet's own `max_trace`
/// setting is not applied by its formatter.
fn compact_stack(lines: &[&str]) -> String {
    let mut runs: Vec<String> = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let repeats = lines[index..].iter().take_while(|l| **l == line).count();
        runs.push(line.to_owned());
        if repeats > 1 {
            runs.push(format!(
                "    ... the frame above {} more times",
                repeats - 1
            ));
        }
        index += repeats;
    }
    if runs.len() > MAX_STACK_LINES {
        let keep = MAX_STACK_LINES / 2;
        let omitted = runs.len() - 2 * keep;
        let tail = runs.split_off(runs.len() - keep);
        runs.truncate(keep);
        runs.push(format!("    ... {omitted} more frames ..."));
        runs.extend(tail);
    }
    runs.join("\n")
}

/// The `(file:line:column)` the sandbox appends to refused imports.
fn trailing_location(message: &str) -> Option<Location> {
    let inner = message.strip_suffix(')')?;
    let inner = &inner[inner.rfind('(')? + 1..];
    let mut parts = inner.rsplitn(3, ':');
    let column = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    let file = parts.next()?;
    Some(Location {
        file: PathBuf::from(file),
        line: Some(line),
        column: Some(column),
    })
}

/// Whether an item key can name a file (the cache checks the keys its records hold).
pub(crate) fn plain_item_key(key: &str) -> bool {
    check_item_key(key).is_ok()
}

/// Item keys become file names: refuse anything that is not one plain name.
fn check_item_key(key: &str) -> Result<(), Failure> {
    let valid = !key.is_empty()
        && key.len() <= 200
        && key != "."
        && key != ".."
        && !key.starts_with('.')
        && !key.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    if valid {
        Ok(())
    } else {
        Err(Failure::plain(format!(
            "item key {key:?} cannot be used as a file name (no `/`, `\\`, control characters or leading `.`)"
        )))
    }
}

fn pointer_suffix(pointer: &str) -> String {
    if pointer.is_empty() {
        String::new()
    } else {
        format!(" at {pointer}")
    }
}

/// Walks a produced value down to its Kubernetes objects, taking them out of it: Lists are
/// flattened, plain objects and arrays are searched; anything else is reported by its JSON
/// pointer.
fn collect_objects(value: Value, pointer: String, out: &mut Vec<Result<(String, Value), String>>) {
    match value {
        Value::Object(mut map) if map.contains_key("kind") || map.contains_key("apiVersion") => {
            let is_list = map
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("List"));
            if is_list && matches!(map.get("items"), Some(Value::Array(_))) {
                if let Some(Value::Array(items)) = map.remove("items") {
                    for (i, item) in items.into_iter().enumerate() {
                        collect_objects(item, format!("{pointer}/items/{i}"), out);
                    }
                }
            } else {
                out.push(Ok((pointer, Value::Object(map))));
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                collect_objects(item, format!("{pointer}/{}", pointer_segment(&key)), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                collect_objects(item, format!("{pointer}/{i}"), out);
            }
        }
        _ => out.push(Err(pointer)),
    }
}

/// What names a Kubernetes object in a cluster, as its value says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

/// What is wrong with a field an identity needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    /// Absent, `null` or empty.
    #[error("is missing")]
    Missing,
    #[error("must be a string")]
    NotAString,
}

/// Why a value has no identity as a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// `apiVersion` or `kind`.
    #[error("{field} {problem}")]
    Type {
        field: &'static str,
        problem: FieldProblem,
    },
    #[error("{kind}: metadata.name {problem}")]
    Name { kind: String, problem: FieldProblem },
    #[error("{kind} {name}: metadata.namespace must be a string")]
    Namespace { kind: String, name: String },
}

/// The identity of a Kubernetes object, or what is missing from it.
pub fn identity(object: &Value) -> Result<Identity, IdentityError> {
    let text = |v: Option<&Value>| -> Result<String, FieldProblem> {
        match v {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(other) if !other.is_string() => Err(FieldProblem::NotAString),
            _ => Err(FieldProblem::Missing),
        }
    };
    let type_field = |field: &'static str| {
        text(object.get(field)).map_err(|problem| IdentityError::Type { field, problem })
    };
    let api_version = type_field("apiVersion")?;
    let kind = type_field("kind")?;
    let metadata = object.get("metadata");
    let name = match text(metadata.and_then(|m| m.get("name"))) {
        Ok(name) => name,
        Err(problem) => return Err(IdentityError::Name { kind, problem }),
    };
    let namespace = match metadata.and_then(|m| m.get("namespace")) {
        None | Some(Value::Null) => None,
        Some(Value::String(ns)) => Some(ns.clone()),
        Some(_) => return Err(IdentityError::Namespace { kind, name }),
    };
    Ok(Identity {
        api_version,
        kind,
        namespace,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::fs;

    /// The messages `located_at_the_caller` recognises are jrsonnet's own: an upgrade that
    /// rewords them must show here, not as errors located at the caller again.
    #[test]
    fn the_errors_jrsonnet_locates_at_the_caller_are_recognised_by_their_words() {
        use jrsonnet_evaluator::typed::ValType;
        use jrsonnet_ir::BinaryOpType;
        for kind in [
            ErrorKind::NoSuchField("missing".into(), Vec::new()),
            ErrorKind::ArrayBoundsError(5, 1),
            ErrorKind::BinaryOperatorDoesNotOperateOnValues(
                BinaryOpType::Add,
                ValType::Obj,
                ValType::Num,
            ),
        ] {
            let message = kind.to_string();
            assert!(located_at_the_caller(&message), "{message}");
        }
        assert!(!located_at_the_caller("assert failed: x too small"));
    }

    #[test]
    fn lists_are_flattened_and_pointers_kept() {
        let value = json!({
            "apiVersion": "v1", "kind": "List",
            "items": [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
                {"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b"}}]},
                7
            ]
        });
        let mut out = Vec::new();
        collect_objects(value, String::new(), &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].as_ref().unwrap().0, "/items/0");
        assert_eq!(out[1].as_ref().unwrap().0, "/items/1/items/0");
        assert_eq!(out[2].as_ref().unwrap_err(), "/items/2");
    }

    #[test]
    fn identity_requires_name_and_string_namespace() {
        let ok = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w", "namespace": "web"}});
        assert_eq!(
            identity(&ok).unwrap(),
            Identity {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: Some("web".into()),
                name: "w".into(),
            }
        );
        let no_name = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {}});
        let err = identity(&no_name).unwrap_err();
        assert!(matches!(
            &err,
            IdentityError::Name { kind, problem: FieldProblem::Missing } if kind == "Namespace"
        ));
        assert_eq!(err.to_string(), "Namespace: metadata.name is missing");
        let bad_ns =
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": 3}});
        assert!(matches!(
            identity(&bad_ns),
            Err(IdentityError::Namespace { name, .. }) if name == "p"
        ));
        let numbered = json!({"apiVersion": 1, "kind": "Pod"});
        let err = identity(&numbered).unwrap_err();
        assert_eq!(
            err,
            IdentityError::Type {
                field: "apiVersion",
                problem: FieldProblem::NotAString
            }
        );
        assert_eq!(err.to_string(), "apiVersion must be a string");
        assert!(matches!(
            identity(&json!({"apiVersion": "v1", "kind": ""})),
            Err(IdentityError::Type {
                field: "kind",
                problem: FieldProblem::Missing
            })
        ));
    }

    #[test]
    fn stacks_fold_repeated_frames_and_keep_both_ends() {
        let mut lines = vec!["a.jsonnet:1:1: function <f> call"; 500];
        lines.push("field <x> evaluation");
        let stack = compact_stack(&lines);
        assert_eq!(
            stack,
            "a.jsonnet:1:1: function <f> call\n    ... the frame above 499 more times\nfield <x> evaluation"
        );

        let distinct: Vec<String> = (0..100).map(|i| format!("frame {i}")).collect();
        let refs: Vec<&str> = distinct.iter().map(String::as_str).collect();
        let stack = compact_stack(&refs);
        let shown: Vec<&str> = stack.lines().collect();
        assert_eq!(shown.len(), MAX_STACK_LINES + 1);
        assert_eq!(shown[0], "frame 0");
        assert_eq!(shown[MAX_STACK_LINES / 2], "    ... 60 more frames ...");
        assert_eq!(shown[MAX_STACK_LINES], "frame 99");
        assert_eq!(compact_stack(&[]), "");
    }

    /// The second entry on a worker gets `x.libsonnet` from the state's cache without x's
    /// imports being resolved again; its inputs must list them all the same.
    #[test]
    fn inputs_include_what_a_cached_import_imported() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for (path, text) in [
            (
                "lib/x.libsonnet",
                "{ y: import 'y.libsonnet', conf: importstr 'data/app.conf', bin: importbin 'data/blob' }",
            ),
            ("lib/y.libsonnet", "{ v: 1 }"),
            ("lib/data/app.conf", "a = 1\n"),
            ("lib/data/blob", "\u{0}\u{1}"),
            (
                "clusters/dev/a.jsonnet",
                "local x = import 'x.libsonnet'; { cm: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' }, data: { v: std.toString(x.y.v), c: x.conf, b: std.toString(std.length(x.bin)) } } }",
            ),
            (
                "clusters/dev/b.jsonnet",
                "local x = import 'x.libsonnet'; { cm: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b' }, data: { c: x.conf, v: std.toString(x.y.v) } } }",
            ),
        ] {
            fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            fs::write(root.join(path), text).unwrap();
        }
        let repo = crate::cli::config::Config::parse("[[cluster]]\nname = \"dev\"\n", root.clone())
            .unwrap()
            .repo;
        let mut worker = Worker::new(&repo, crate::model::events::Unseen::shared());
        let entry = |name: &str| Entry {
            cluster: 0,
            path: PathBuf::from(format!("clusters/dev/{name}.jsonnet")),
            stem: name.to_owned(),
        };
        let a = worker.expand(&entry("a"));
        let b = worker.expand(&entry("b"));
        assert!(a.result.is_ok() && b.result.is_ok(), "{a:?} {b:?}");
        let paths = |e: &Expanded| -> Vec<(String, bool)> {
            e.inputs
                .as_ref()
                .unwrap()
                .iter()
                .map(|i| {
                    let present = i.seen != crate::model::expansion::Seen::Absent;
                    (i.path.display().to_string(), present)
                })
                .collect()
        };
        // importbin 'data/blob' only ever ran for `a`, on this worker: `b` may reach it
        // through x, so it is listed (more is safe, less would not be).
        let expected: Vec<(String, bool)> = [
            ("clusters/dev/b.jsonnet", true),
            ("clusters/dev/x.libsonnet", false),
            ("lib/data/app.conf", true),
            ("lib/data/blob", true),
            ("lib/x.libsonnet", true),
            ("lib/y.libsonnet", true),
        ]
        .iter()
        .map(|(p, d)| ((*p).to_owned(), *d))
        .collect();
        assert_eq!(paths(&b), expected);
        assert!(!paths(&b).iter().any(|(p, _)| p.contains("a.jsonnet")));
        let digest = |e: &Expanded, path: &str| {
            e.inputs
                .as_ref()
                .unwrap()
                .iter()
                .find(|i| i.path == Path::new(path))
                .unwrap()
                .seen
                .clone()
        };
        assert_eq!(
            digest(&b, "lib/data/app.conf"),
            crate::model::expansion::Seen::File(crate::model::digest::Digest::of(b"a = 1\n"))
        );
        assert_eq!(digest(&a, "lib/y.libsonnet"), digest(&b, "lib/y.libsonnet"));
    }

    /// Evaluator threads outlive their run without corrupting the heap. They used to leak
    /// their jsonnet object space and end; the destructor of jrsonnet's thread-local empty
    /// object then wrote into the freed head of the space's list. This test binary uses the
    /// system allocator, which noticed at the next allocations of that size and aborted.
    #[test]
    fn evaluator_threads_end_their_run_without_writing_into_freed_memory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("clusters/dev")).unwrap();
        fs::create_dir_all(root.join("lib")).unwrap();
        let entries: Vec<Entry> = (0..4)
            .map(|i| {
                let name = format!("e{i}");
                fs::write(
                    root.join(format!("clusters/dev/{name}.jsonnet")),
                    "{ cm: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', annotations: {} }, data: {} } }",
                )
                .unwrap();
                Entry {
                    cluster: 0,
                    path: PathBuf::from(format!("clusters/dev/{name}.jsonnet")),
                    stem: name,
                }
            })
            .collect();
        let repo = crate::cli::config::Config::parse("[[cluster]]\nname = \"dev\"\n", root)
            .unwrap()
            .repo;
        for _ in 0..3 {
            let expanded = expand_all(&repo, &entries, &crate::model::events::Unseen::shared());
            assert!(expanded.iter().all(|e| e.result.is_ok()), "{expanded:?}");
            // Time for an evaluator thread to end, if it would, and for its destructors to
            // run; then allocations of every small size.
            std::thread::sleep(std::time::Duration::from_millis(100));
            let blocks: Vec<Vec<u8>> = (0..20_000).map(|i| vec![0u8; 8 + i % 64]).collect();
            assert_eq!(blocks.len(), 20_000);
        }
    }

    /// An entry past the evaluation budget is an error naming the budget, is never handed to
    /// `evaluated` (the cache), and the other entries are expanded as usual.
    #[test]
    fn an_entry_past_the_budget_is_an_error_and_never_cached() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let config_map = |name: &str, value: &str| {
            format!(
                "{{ cm: {{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {{ name: '{name}' }}, data: {{ v: {value} }} }} }}"
            )
        };
        // About a second in a debug build: the abandoned thread ends soon after the test.
        let slow = config_map(
            "slow",
            "std.toString(std.foldl(function(sum, x) sum + x, std.range(0, 300000), 0))",
        );
        fs::create_dir_all(root.join("clusters/dev")).unwrap();
        fs::write(root.join("clusters/dev/slow.jsonnet"), slow).unwrap();
        for name in ["a", "b", "c"] {
            fs::write(
                root.join(format!("clusters/dev/{name}.jsonnet")),
                config_map(name, "'1'"),
            )
            .unwrap();
        }
        let mut repo = crate::cli::config::Config::parse(
            "jpath = []\n[[cluster]]\nname = \"dev\"\n",
            root.clone(),
        )
        .unwrap()
        .repo;
        repo.evaluation_budget = std::time::Duration::from_millis(100);
        let entries: Vec<Entry> = ["a", "slow", "b", "c"]
            .iter()
            .map(|name| Entry {
                cluster: 0,
                path: PathBuf::from(format!("clusters/dev/{name}.jsonnet")),
                stem: (*name).to_owned(),
            })
            .collect();
        let cached = std::sync::Mutex::new(Vec::new());
        let expanded = expand_all_with(
            &repo,
            &entries,
            &crate::model::events::Unseen::shared(),
            |_| None,
            |i, _| cached.lock().unwrap().push(i),
        );
        assert_eq!(expanded.len(), 4);
        for ((expanded, reused), entry) in expanded.iter().zip(&entries) {
            assert_eq!(&expanded.entry, entry);
            assert!(!reused);
            if entry.stem == "slow" {
                let failure = expanded.result.as_ref().unwrap_err();
                assert!(
                    failure.message.contains("limits.evaluation_seconds"),
                    "{failure:?}"
                );
            } else {
                assert!(expanded.result.is_ok(), "{expanded:?}");
            }
        }
        let mut cached = cached.into_inner().unwrap();
        cached.sort();
        assert_eq!(cached, vec![0, 2, 3]);
    }

    #[test]
    fn item_keys_must_be_plain_file_names() {
        for key in ["web", "web_svc", "0", "a.b", "a-b"] {
            assert!(check_item_key(key).is_ok(), "{key}");
        }
        for key in ["", ".", "..", "../x", "a/b", ".hidden", "a\\b", "a\nb"] {
            assert!(check_item_key(key).is_err(), "{key:?}");
        }
    }
}
