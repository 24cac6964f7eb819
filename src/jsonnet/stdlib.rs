//! The jsonnet standard library entries are evaluated with: jrsonnet's, except that
//! `std.parseYaml` parses with a limit on nesting. jrsonnet turns the YAML parser's budget
//! off, and its deserializer recurses once per level of block nesting (`- - - - 1`, which
//! has no flow brackets for the scanner's own limit to count): 30,000 levels of text read by
//! `importstr` aborted the whole run with a stack overflow. `std.parseJson` needs nothing:
//! serde_json stops at 128 levels.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use jrsonnet_evaluator::function::builtin;
use jrsonnet_evaluator::tla::TlaArg;
use jrsonnet_evaluator::trace::PathResolver;
use jrsonnet_evaluator::{
    ContextInitializer, IStr, InitialContextBuilder, ObjValue, ObjValueBuilder, Result, Source,
    Thunk, Val, error,
};
use jrsonnet_gcmodule::{Cc, Trace};
use jrsonnet_stdlib::{Settings, TracePrinter};

use crate::model::nesting;

/// jrsonnet's standard library object with the gate's `parseYaml` over it, bound as `std`
/// in every file (with that file's `std.thisFile`).
#[derive(Trace)]
pub(crate) struct GateStdlib {
    std: ObjValue,
    settings: Cc<RefCell<Settings>>,
}

impl GateStdlib {
    /// `root` is what `std.thisFile` is relative to.
    pub(crate) fn new(root: PathBuf, trace_printer: Rc<dyn TracePrinter>) -> Self {
        let settings = Cc::new(RefCell::new(Settings {
            ext_vars: HashMap::new(),
            ext_natives: HashMap::new(),
            trace_printer,
            path_resolver: PathResolver::Relative(root),
        }));
        let mut std = ObjValueBuilder::new();
        std.with_super(jrsonnet_stdlib::stdlib_uncached(settings.clone()));
        std.method("parseYaml", builtin_parse_yaml {});
        GateStdlib {
            std: std.build(),
            settings,
        }
    }

    /// An `--ext-str`: `std.extVar(name)` is `value`.
    pub(crate) fn add_ext_str(&self, name: &str, value: &str) {
        self.settings
            .borrow_mut()
            .ext_vars
            .insert(IStr::from(name), TlaArg::String(IStr::from(value)));
    }
}

impl ContextInitializer for GateStdlib {
    fn populate(&self, source: Source, builder: &mut InitialContextBuilder) {
        let this_file = {
            let path = source.source_path();
            path.path().map_or_else(
                || path.to_string(),
                |p| self.settings.borrow().path_resolver.resolve(p),
            )
        };
        let mut std = ObjValueBuilder::new();
        std.with_super(self.std.clone());
        std.field("thisFile").hide().value(this_file);
        builder.bind("std", Thunk::evaluated(Val::Obj(std.build())));
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// `std.parseYaml` as jrsonnet's (the same parser and options: a stream of documents is an
/// array, an empty one `null`; the same name in stack traces), with the nesting limit
/// jsonnet sources have.
#[builtin]
fn builtin_parse_yaml(str: IStr) -> Result<Val> {
    let needs_synthetic_null = str.trim_end().ends_with("\n---");
    let options = serde_saphyr::options! {
        legacy_octal_numbers: true,
        budget: serde_saphyr::budget! {
            max_depth: nesting::LIMIT,
            // The other limits stay off, as jrsonnet has them.
            max_reader_input_bytes: None,
            max_events: usize::MAX,
            max_aliases: usize::MAX,
            max_anchors: usize::MAX,
            max_documents: usize::MAX,
            max_nodes: usize::MAX,
            max_total_scalar_bytes: usize::MAX,
            max_merge_keys: usize::MAX,
            enforce_alias_anchor_ratio: false,
        },
    };
    let mut documents = serde_saphyr::from_multiple_with_options::<Val>(&str, options)
        .map_err(|e| error!("failed to parse yaml: {e}"))?;
    // A stream ending in `---` ends in an empty document, which the parser does not list.
    if needs_synthetic_null {
        documents.push(Val::Null);
    }
    Ok(match documents.len() {
        0 => Val::Null,
        1 => documents.pop().unwrap_or(Val::Null),
        _ => Val::Arr(documents.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jrsonnet_evaluator::State;
    use jrsonnet_evaluator::manifest::JsonFormat;

    fn evaluate(code: &str) -> std::result::Result<String, String> {
        let stdlib = GateStdlib::new(PathBuf::from("/"), Rc::new(NoTraces));
        stdlib.add_ext_str("cluster", "dev");
        evaluate_with(stdlib, code)
    }

    /// As jrsonnet's own standard library evaluates `code`.
    fn evaluate_by_jrsonnet(code: &str) -> std::result::Result<String, String> {
        let stdlib =
            jrsonnet_stdlib::ContextInitializer::new(PathResolver::Relative(PathBuf::from("/")));
        stdlib.add_ext_str("cluster".into(), "dev".into());
        evaluate_with(stdlib, code)
    }

    fn evaluate_with(
        stdlib: impl ContextInitializer + Trace + 'static,
        code: &str,
    ) -> std::result::Result<String, String> {
        let mut builder = State::builder();
        builder.context_initializer(stdlib);
        let state = builder.build();
        let _entered = state.enter();
        state
            .evaluate_snippet("test.jsonnet", code)
            .and_then(|v| v.manifest(JsonFormat::minify()))
            .map_err(|e| e.to_string())
    }

    #[derive(jrsonnet_gcmodule::Acyclic)]
    struct NoTraces;
    impl TracePrinter for NoTraces {
        fn print_trace(&self, _: jrsonnet_evaluator::function::CallLocation, _: IStr) {}
    }

    #[test]
    fn parse_yaml_reads_what_jrsonnet_reads() {
        for yaml in [
            "a: 1\nb: [x, 010, 0o10, 0x10, 1e3, .inf, ~, yes, 'no']\n",
            "a: &x {b: 1}\nc: *x\nd:\n  <<: *x\n  e: 2\n",
            "a: 1\n---\nb: 2\n",
            "a: 1\n---\n",
            "---\n",
            "",
            "- - - 1\n- |\n  text\n",
            "a: [1,\n",
        ] {
            let code = format!("std.parseYaml({})", serde_json::to_string(yaml).unwrap());
            assert_eq!(evaluate(&code), evaluate_by_jrsonnet(&code), "{yaml:?}");
        }
        // The rest of the library, ext vars and thisFile are there as ever.
        let code = "[std.extVar('cluster'), std.thisFile, std.parseJson('[1]'), std.length(std)]";
        assert_eq!(evaluate(code), evaluate_by_jrsonnet(code));
        assert_eq!(evaluate("std.extVar('cluster')").as_deref(), Ok(r#""dev""#));
    }

    /// On a stack like the workers' (see `WORKER_STACK` in main.rs): test threads have 2 MiB.
    #[test]
    fn parse_yaml_refuses_deep_nesting() {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(parse_yaml_refuses_deep_nesting_on_this_thread)
            .unwrap()
            .join()
            .unwrap();
    }

    fn parse_yaml_refuses_deep_nesting_on_this_thread() {
        let deep = format!("{}1", "- ".repeat(100_000));
        let code = format!("std.parseYaml({})", serde_json::to_string(&deep).unwrap());
        let err = evaluate(&code).unwrap_err();
        assert!(err.contains("failed to parse yaml"), "{err}");
        assert!(err.contains("depth"), "{err}");
        let fine = format!("{}1", "- ".repeat(100));
        let code = format!(
            "std.length(std.parseYaml({}))",
            serde_json::to_string(&fine).unwrap()
        );
        assert_eq!(evaluate(&code).as_deref(), Ok("1"));
    }
}
