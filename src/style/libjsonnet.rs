//! The only door to C++ libjsonnet (through `jsonnet-sys`): its formatter is the reference
//! (`jsonnetfmt`), so the style stage calls it in-process instead of shelling out per file.
//! Everything unsafe about the C API — who frees which string, what a VM may be shared
//! with — stays in this module behind [`Formatter`].

use std::ffi::{CStr, CString, c_char, c_int};
use std::ptr::NonNull;

use jsonnet_sys as sys;

use super::{CommentStyle, FormatOptions, StringStyle};

/// The version of the bundled libjsonnet, e.g. `v0.17.0`.
pub(crate) fn version() -> &'static str {
    // SAFETY: jsonnet_version returns a pointer to a static, NUL-terminated string literal
    // (LIB_JSONNET_VERSION) that lives as long as the program.
    let version = unsafe { CStr::from_ptr(sys::jsonnet_version()) };
    version.to_str().unwrap_or("unknown")
}

/// A libjsonnet VM configured to format with one set of options.
///
/// libjsonnet documents no thread safety for a VM, so a `Formatter` is neither `Send` nor
/// `Sync` (it holds a raw pointer): each worker thread makes its own. Making one is a
/// small allocation (about a microsecond, against tens of microseconds to format even a
/// small file), so callers make one per rayon job.
pub struct Formatter {
    vm: NonNull<sys::JsonnetVm>,
}

/// Why a source could not be formatted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The formatter's own message: `file:line:column: what` (a static error: the source
    /// does not lex or parse).
    Syntax(String),
    /// The source cannot be handed to the C API (a NUL byte) or its output is not UTF-8.
    Unusable(String),
}

impl Formatter {
    pub fn new(options: &FormatOptions) -> Formatter {
        // SAFETY: jsonnet_make has no preconditions; it returns a new VM or aborts the
        // process when memory runs out (it never returns null).
        let vm = unsafe { sys::jsonnet_make() };
        let vm = NonNull::new(vm).expect("jsonnet_make returned no VM");
        let flag = |value: bool| c_int::from(value);
        let string = match options.string_style {
            StringStyle::Single => b's',
            StringStyle::Double => b'd',
            StringStyle::Leave => b'l',
        };
        let comment = match options.comment_style {
            CommentStyle::Hash => b'h',
            CommentStyle::Slash => b's',
            CommentStyle::Leave => b'l',
        };
        let indent = c_int::try_from(options.indent).unwrap_or(c_int::MAX);
        let blank = c_int::try_from(options.max_blank_lines).unwrap_or(c_int::MAX);
        let vm_ptr = vm.as_ptr();
        // SAFETY: vm_ptr is the live VM made above and used by this thread only; the setters
        // only store their argument in the VM's options (the style setters map anything
        // outside their letters to 'l', so no value can put the VM in a bad state).
        unsafe {
            sys::jsonnet_fmt_indent(vm_ptr, indent);
            sys::jsonnet_fmt_max_blank_lines(vm_ptr, blank);
            sys::jsonnet_fmt_string(vm_ptr, c_int::from(string));
            sys::jsonnet_fmt_comment(vm_ptr, c_int::from(comment));
            sys::jsonnet_fmt_pad_arrays(vm_ptr, flag(options.pad_arrays));
            sys::jsonnet_fmt_pad_objects(vm_ptr, flag(options.pad_objects));
            sys::jsonnet_fmt_pretty_field_names(vm_ptr, flag(options.pretty_field_names));
            sys::jsonnet_fmt_sort_imports(vm_ptr, flag(options.sort_imports));
        }
        Formatter { vm }
    }

    /// The canonical form of `source`. `filename` only appears in error messages, as the
    /// formatter writes them (`filename:line:column: message`).
    pub fn format(&self, filename: &str, source: &[u8]) -> Result<String, FormatError> {
        // libjsonnet's parser recurses once per level and its passes over the tree are
        // quadratic in some chains: a deep source would abort the process or hold it for
        // minutes, so it is refused as a static error would be.
        if let Err(deep) = crate::model::nesting::check(source) {
            return Err(FormatError::Syntax(format!(
                "{filename}:{}:{}: {}",
                deep.line,
                deep.column,
                deep.message()
            )));
        }
        let snippet = CString::new(source).map_err(|e| {
            FormatError::Unusable(format!(
                "{filename}: holds a NUL byte at offset {}; jsonnet source cannot",
                e.nul_position()
            ))
        })?;
        // A NUL in a file name would only cut the name short in messages.
        let name = CString::new(filename.replace('\0', "\u{FFFD}")).unwrap_or_default();
        let mut error: c_int = 0;
        // SAFETY: the VM is live and not shared with another thread (Formatter is !Send and
        // !Sync); `name` and `snippet` are NUL-terminated and outlive the call, which only
        // reads them; `error` is a valid place for the flag. C++ exceptions do not cross the
        // boundary: libjsonnet turns static errors into an error string and aborts on others.
        let output: *mut c_char = unsafe {
            sys::jsonnet_fmt_snippet(
                self.vm.as_ptr(),
                name.as_ptr(),
                snippet.as_ptr(),
                &mut error,
            )
        };
        if output.is_null() {
            return Err(FormatError::Unusable(format!(
                "{filename}: libjsonnet's formatter returned nothing"
            )));
        }
        // The bytes are copied out before the C string is freed, whatever they hold.
        // SAFETY: a non-null result is a NUL-terminated string libjsonnet allocated for us.
        let bytes = unsafe { CStr::from_ptr(output) }.to_bytes().to_vec();
        // SAFETY: the C API requires every returned string to be released exactly once
        // with jsonnet_realloc(vm, ptr, 0); `output` is not used after this.
        unsafe {
            sys::jsonnet_realloc(self.vm.as_ptr(), output, 0);
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            FormatError::Unusable(format!(
                "{filename}: is not UTF-8 text (jsonnet source must be UTF-8)"
            ))
        })?;
        if error != 0 {
            let message = text.trim_end();
            let message = message.strip_prefix("STATIC ERROR: ").unwrap_or(message);
            return Err(FormatError::Syntax(message.to_owned()));
        }
        Ok(one_final_newline(text))
    }
}

/// libjsonnet 0.17 keeps the blank lines after a file's last comment and adds a newline of
/// its own, so every run grows a file that ends in a comment by one line until
/// `max_blank_lines` is reached (google/jsonnet#849). jsonnetfmt 0.18 fixed it
/// (google/jsonnet#937): a formatted file ends in exactly one newline. Nothing else in the
/// output can end in blank lines — a text block ends in its `|||` — so trimming them gives
/// 0.18's output, and makes the formatter idempotent again.
fn one_final_newline(mut text: String) -> String {
    let kept = text.trim_end_matches('\n').len();
    text.truncate(kept);
    text.push('\n');
    text
}

impl Drop for Formatter {
    fn drop(&mut self) {
        // SAFETY: the VM was made by jsonnet_make, is destroyed exactly once (here), and no
        // string it returned is still held (format frees each before returning).
        unsafe { sys::jsonnet_destroy(self.vm.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Formatter {
        Formatter::new(&FormatOptions::default())
    }

    #[test]
    fn formats_like_jsonnetfmt() {
        let out = defaults()
            .format("a.jsonnet", br#"{"a":1,  b: "x", c: [1,2]}  # note"#)
            .unwrap();
        assert_eq!(out, "{ a: 1, b: 'x', c: [1, 2] }  // note\n");
    }

    #[test]
    fn a_final_comment_keeps_one_newline_and_formatting_is_idempotent() {
        let formatter = defaults();
        for source in [
            "{ a: 1 }  // note\n",
            "{ a: 1 }\n// end\n",
            "{ a: 1 }\n\n// end\n\n\n",
            "{ a: 1 }  /* b */\n",
            "[]\n# end",
        ] {
            let once = formatter.format("a.jsonnet", source.as_bytes()).unwrap();
            assert!(once.ends_with('\n') && !once.ends_with("\n\n"), "{once:?}");
            let twice = formatter.format("a.jsonnet", once.as_bytes()).unwrap();
            assert_eq!(once, twice, "{source:?}");
        }
        assert_eq!(
            formatter.format("a.jsonnet", b"[]\n# end").unwrap(),
            "[]\n// end\n"
        );
    }

    #[test]
    fn options_change_the_output() {
        let options = FormatOptions {
            string_style: StringStyle::Double,
            comment_style: CommentStyle::Hash,
            pad_arrays: true,
            pad_objects: false,
            ..FormatOptions::default()
        };
        let out = Formatter::new(&options)
            .format("a.jsonnet", b"{ b: 'x', c: [1, 2] }  // note\n")
            .unwrap();
        assert_eq!(out, "{b: \"x\", c: [ 1, 2 ]}  # note\n");
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let err = defaults()
            .format("clusters/dev/bad.jsonnet", b"{\n  a: 1,\n  b: ,\n}\n")
            .unwrap_err();
        let FormatError::Syntax(message) = err else {
            panic!("{err:?}")
        };
        assert!(
            message.starts_with("clusters/dev/bad.jsonnet:3:6"),
            "{message}"
        );
    }

    #[test]
    fn unusable_input_is_an_error_not_a_crash() {
        assert!(matches!(
            defaults().format("a.jsonnet", b"{ a: 1 }\0"),
            Err(FormatError::Unusable(_))
        ));
        // libjsonnet reads invalid UTF-8 as U+FFFD: callers must check their input is UTF-8
        // (style::judge does) or a rewrite would replace the bytes.
        assert_eq!(
            defaults().format("a.jsonnet", b"{ a: '\xff' }\n").unwrap(),
            "{ a: '\u{FFFD}' }\n"
        );
    }

    #[test]
    fn one_formatter_per_thread_gives_the_same_results() {
        let source = b"local b = import 'b.libsonnet';\nlocal a = import 'a.libsonnet';\n{x:a+b}\n";
        let expected = defaults().format("x.jsonnet", source).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || {
                    let formatter = defaults();
                    (0..200)
                        .map(|_| formatter.format("x.jsonnet", source).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for thread in threads {
            assert!(thread.join().unwrap().iter().all(|out| *out == expected));
        }
        assert!(expected.starts_with("local a = import 'a.libsonnet';\n"));
    }

    #[test]
    fn reports_its_version() {
        assert!(version().starts_with("v0.17"), "{}", version());
    }
}
