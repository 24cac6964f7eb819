//! Where a runtime error really is, when jrsonnet cannot say: for a missing field, an index
//! out of bounds or an operator on the wrong types inside a function, jrsonnet's stack stops
//! at the caller, while the C++ `jsonnet` tool names the faulty line. The entry is evaluated
//! again with libjsonnet (the C++ implementation, already built for the style stage), with
//! the same ext vars and the same sandboxed imports, and its innermost frame is taken — only
//! when its stack passes through the place jrsonnet named, so both tell of the same failure.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use jrsonnet_evaluator::{ImportResolver, SourcePath};
use jrsonnet_ir::SourceFile;
use jsonnet_sys as sys;

use super::sandbox::SandboxResolver;

/// What the C++ tool is asked to evaluate, and how.
#[derive(Clone)]
pub(super) struct Request {
    pub root: PathBuf,
    pub jpath: Vec<PathBuf>,
    /// The entry, relative to the root.
    pub entry: PathBuf,
    pub ext_vars: Vec<(String, String)>,
    pub max_stack: usize,
    /// How long the evaluation may take; past it, the answer is not waited for.
    pub budget: Duration,
}

/// A place in a source, as the C++ tool reports it (line and column of the span's start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Frame {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The span's end on its last line, when the frame gives one.
    pub end: Option<(usize, usize)>,
}

/// The C++ tool's runtime error for the entry: its message and its stack, innermost first;
/// `None` when it evaluates, fails otherwise (a static error), or takes longer than the
/// budget (the evaluation is then left to end with the process).
pub(super) fn runtime_error(request: &Request) -> Option<(String, Vec<Frame>)> {
    let (send, receive) = mpsc::channel();
    let request = request.clone();
    let budget = request.budget;
    std::thread::Builder::new()
        .name("policyrun-cpp-jsonnet".into())
        // libjsonnet recurses on the native stack as deep as the program does.
        .stack_size(super::stack::WORKER_STACK)
        .spawn(move || {
            let _ = send.send(evaluate(&request));
        })
        .ok()?;
    let output = receive.recv_timeout(budget).ok()??;
    parse(&output)
}

/// The import callback's context: the sandbox every import of the C++ evaluation goes
/// through, exactly as jrsonnet's do.
struct Imports {
    resolver: SandboxResolver,
    vm: *mut sys::JsonnetVm,
}

/// Evaluates the entry; the error text when it fails.
fn evaluate(request: &Request) -> Option<String> {
    let entry = CString::new(request.root.join(&request.entry).to_str()?).ok()?;
    // SAFETY: a VM is made, used by this thread only, and destroyed below; every string
    // handed to it is NUL-terminated and outlives the call.
    unsafe {
        let vm = sys::jsonnet_make();
        if vm.is_null() {
            return None;
        }
        sys::jsonnet_max_stack(vm, request.max_stack.min(u32::MAX as usize) as u32);
        sys::jsonnet_max_trace(vm, 64);
        let mut imports = Box::new(Imports {
            resolver: SandboxResolver::new(request.root.clone(), request.jpath.clone()),
            vm,
        });
        // The binding declares the callback as a pointer to a function pointer; libjsonnet
        // takes the function pointer itself.
        let callback: sys::JsonnetImportCallback = import;
        sys::jsonnet_import_callback(
            vm,
            callback as *const sys::JsonnetImportCallback,
            (&mut *imports as *mut Imports).cast::<c_void>(),
        );
        let mut strings = Vec::new();
        for (name, value) in &request.ext_vars {
            let (Ok(name), Ok(value)) = (CString::new(name.as_str()), CString::new(value.as_str()))
            else {
                continue;
            };
            sys::jsonnet_ext_var(vm, name.as_ptr(), value.as_ptr());
            strings.push((name, value));
        }
        let mut failed: c_int = 0;
        let output = sys::jsonnet_evaluate_file(vm, entry.as_ptr(), &mut failed);
        let text =
            (!output.is_null()).then(|| CStr::from_ptr(output).to_string_lossy().into_owned());
        if !output.is_null() {
            sys::jsonnet_realloc(vm, output, 0);
        }
        sys::jsonnet_destroy(vm);
        drop(imports);
        drop(strings);
        (failed != 0).then_some(text).flatten()
    }
}

/// libjsonnet's import callback: `rel` imported from the directory `base`, resolved and
/// read by the sandbox; a refusal is the import's error, as in the gate.
extern "C" fn import(
    context: *mut c_void,
    base: *const c_char,
    rel: *const c_char,
    found_here: *mut *mut c_char,
    success: *mut c_int,
) -> *mut c_char {
    // SAFETY: `context` is the `Imports` registered with the VM, alive for the whole
    // evaluation; `base` and `rel` are NUL-terminated strings libjsonnet owns; the returned
    // buffers are allocated with `jsonnet_realloc`, as libjsonnet frees them.
    unsafe {
        let imports = &*(context.cast::<Imports>());
        let base = CStr::from_ptr(base).to_string_lossy().into_owned();
        let rel = CStr::from_ptr(rel).to_string_lossy().into_owned();
        // The sandbox resolves relative to the importing file's directory.
        let from = SourcePath::new(SourceFile::new(Path::new(&base).join("<importing file>")));
        let read = imports
            .resolver
            .resolve_from(&from, &rel.as_str())
            .and_then(|found| {
                let bytes = imports.resolver.load_file_contents(&found)?;
                Ok((found, bytes))
            });
        let (text, place, ok) = match read {
            Ok((found, bytes)) => {
                let place = found
                    .path()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (bytes, place, 1)
            }
            Err(error) => (error.to_string().into_bytes(), String::new(), 0),
        };
        *success = ok;
        if ok == 1 {
            *found_here = allocated(imports.vm, place.as_bytes());
        }
        allocated(imports.vm, &text)
    }
}

/// `bytes` NUL-terminated in a buffer libjsonnet owns.
///
/// # Safety
/// `vm` must be a live VM.
unsafe fn allocated(vm: *mut sys::JsonnetVm, bytes: &[u8]) -> *mut c_char {
    // A NUL inside would cut the text short: such a file is not jsonnet anyway.
    let bytes: Vec<u8> = bytes.iter().copied().filter(|b| *b != 0).collect();
    // SAFETY: per the function's contract; the buffer has room for the bytes and the NUL.
    unsafe {
        let buffer = sys::jsonnet_realloc(vm, std::ptr::null(), bytes.len() + 1);
        if buffer.is_null() {
            return buffer;
        }
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buffer.cast::<u8>(), bytes.len());
        *buffer.add(bytes.len()) = 0;
        buffer
    }
}

/// `RUNTIME ERROR: message` and its tab-indented frames (`file:L:C-C2`, `file:L:C`, or
/// `file:(L:C)-(L2:C2)`, then a description).
fn parse(output: &str) -> Option<(String, Vec<Frame>)> {
    let rest = output.strip_prefix("RUNTIME ERROR: ")?;
    let mut lines = rest.lines();
    let message = lines.next()?.to_owned();
    let frames = lines
        .filter_map(|line| line.strip_prefix('\t'))
        .filter_map(|line| frame(line.split('\t').next()?))
        .collect();
    Some((message, frames))
}

fn frame(place: &str) -> Option<Frame> {
    // `file:(L:C)-(L2:C2)`
    if let Some(open) = place.rfind(":(") {
        let numbers: Vec<usize> = place[open + 1..]
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect();
        if let [line, column, end_line, end_column] = numbers[..] {
            return Some(Frame {
                file: PathBuf::from(&place[..open]),
                line,
                column,
                end: Some((end_line, end_column)),
            });
        }
    }
    // `file:L:C` or `file:L:C-C2`
    let (head, columns) = place.rsplit_once(':')?;
    let (file, line) = head.rsplit_once(':')?;
    let line: usize = line.parse().ok()?;
    let (column, end) = match columns.split_once('-') {
        Some((column, end)) => (column.parse().ok()?, Some((line, end.parse().ok()?))),
        None => (columns.parse().ok()?, None),
    };
    Some(Frame {
        file: PathBuf::from(file),
        line,
        column,
        end,
    })
}

impl Frame {
    /// Whether this frame's span holds `line:column` of `file`.
    pub(super) fn holds(&self, file: &Path, line: usize, column: usize) -> bool {
        if !self.file.ends_with(file) {
            return false;
        }
        let start = (self.line, self.column);
        let end = self.end.unwrap_or(start);
        start <= (line, column) && (line, column) <= end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_in_every_form() {
        let output = "RUNTIME ERROR: field does not exist: missing\n\tlib/bad.libsonnet:2:14-23\tfunction <anonymous>\n\tclusters/dev/a.jsonnet:(7:49)-(9:6)\tobject <anonymous>\n\tclusters/dev/a.jsonnet:3:1\t\n\tDuring manifestation\t\n";
        let (message, frames) = parse(output).unwrap();
        assert_eq!(message, "field does not exist: missing");
        assert_eq!(
            frames,
            [
                Frame {
                    file: "lib/bad.libsonnet".into(),
                    line: 2,
                    column: 14,
                    end: Some((2, 23))
                },
                Frame {
                    file: "clusters/dev/a.jsonnet".into(),
                    line: 7,
                    column: 49,
                    end: Some((9, 6))
                },
                Frame {
                    file: "clusters/dev/a.jsonnet".into(),
                    line: 3,
                    column: 1,
                    end: None
                },
            ]
        );
        assert!(frames[1].holds(Path::new("clusters/dev/a.jsonnet"), 8, 65));
        assert!(!frames[1].holds(Path::new("clusters/dev/a.jsonnet"), 9, 7));
        assert!(parse("STATIC ERROR: a.jsonnet:1:1: x").is_none());
    }

    fn request(root: &Path, entry: &str) -> Request {
        Request {
            root: root.to_path_buf(),
            jpath: vec![root.join("lib")],
            entry: PathBuf::from(entry),
            ext_vars: vec![("cluster".into(), "dev".into())],
            max_stack: 500,
            budget: Duration::from_secs(30),
        }
    }

    #[test]
    fn the_faulty_line_is_found_through_the_sandboxed_imports() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("lib")).unwrap();
        std::fs::create_dir_all(root.join("clusters/dev")).unwrap();
        std::fs::write(
            root.join("lib/l.libsonnet"),
            "{\n  f(x)::\n    x.missing,\n}\n",
        )
        .unwrap();
        std::fs::write(
            root.join("clusters/dev/a.jsonnet"),
            "local l = import 'l.libsonnet';\n{ v: l.f({}), c: std.extVar('cluster') }\n",
        )
        .unwrap();
        let (message, frames) = runtime_error(&request(&root, "clusters/dev/a.jsonnet")).unwrap();
        assert_eq!(message, "field does not exist: missing");
        assert!(frames[0].file.ends_with("lib/l.libsonnet"), "{frames:?}");
        assert_eq!((frames[0].line, frames[0].column), (3, 5));
    }

    #[test]
    fn an_import_outside_the_repository_is_refused_as_in_the_gate() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("lib")).unwrap();
        std::fs::write(dir.path().join("secret.txt"), "hunter2").unwrap();
        let root = root.canonicalize().unwrap();
        std::fs::write(
            root.join("a.jsonnet"),
            "local s = importstr '../secret.txt';\n{ v: s.missing }\n",
        )
        .unwrap();
        let (message, _) = runtime_error(&request(&root, "a.jsonnet")).unwrap();
        assert!(message.contains("refused"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}
