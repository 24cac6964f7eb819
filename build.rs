//! Gives every build of policyrun an identity that follows what it was built from: a digest
//! of its sources, `Cargo.toml`, `Cargo.lock`, the compiler and the build profile. The cache
//! keeps each build's records apart by it (a changed evaluator must not serve an old build's
//! records), and two builds of the same commit with the same toolchain share records: the
//! gate Jenkins builds from `main` for a pull request reads the cache `main`'s own build
//! published, though the binaries were built in different places and at different times.
//!
//! It also embeds the built-in rule packs (issue 27): the `.rego` modules of `policies/`
//! (not their tests, examples or waivers) and the README that describes their rules, so
//! that the packs a binary runs are the ones it was built from, and are part of its identity.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut files = Vec::new();
    collect(&root.join("src"), &mut files);
    let packs = pack_files(&root.join("policies"));
    files.extend(packs.iter().map(|(_, path)| path.clone()));
    files.push(root.join("policies").join("README.md"));
    files.sort();
    for name in ["Cargo.toml", "Cargo.lock", "build.rs"] {
        files.push(root.join(name));
    }
    let mut digest = Sha256::new();
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap_or(file);
        let bytes = std::fs::read(file).unwrap_or_default();
        digest.update(relative.to_string_lossy().as_bytes());
        digest.update([0]);
        digest.update((bytes.len() as u64).to_le_bytes());
        digest.update(&bytes);
    }
    // The compiler and how it was asked to build: another rustc or profile is another build.
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = Command::new(rustc)
        .arg("-vV")
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    digest.update(&version);
    for variable in [
        "PROFILE",
        "TARGET",
        "OPT_LEVEL",
        "DEBUG",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_CFG_TARGET_FEATURE",
    ] {
        digest.update(variable.as_bytes());
        digest.update(std::env::var(variable).unwrap_or_default().as_bytes());
        digest.update([0]);
    }
    let hex: String = digest
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env=POLICYRUN_BUILD_ID={hex}");
    write_packs(&root, &packs);
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=policies");
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");
}

/// The modules of the built-in packs: every `.rego` file but tests, one directory deep below
/// `policies/` (each directory a pack, `lib` the shared one; `examples` holds only tests),
/// with its path below `policies/`, sorted.
fn pack_files(policies: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    let Ok(packs) = std::fs::read_dir(policies) else {
        return found;
    };
    for pack in packs.flatten().filter(|p| p.path().is_dir()) {
        let Ok(modules) = std::fs::read_dir(pack.path()) else {
            continue;
        };
        for module in modules.flatten() {
            let name = module.file_name().to_string_lossy().into_owned();
            if name.ends_with(".rego") && !name.ends_with("_test.rego") && module.path().is_file() {
                let pack = pack.file_name().to_string_lossy().into_owned();
                found.push((format!("{pack}/{name}"), module.path()));
            }
        }
    }
    found.sort();
    found
}

/// `$OUT_DIR/builtin_packs.rs`: the packs' modules as `(path below policies/, text)` and
/// their README, included from the files themselves (so cargo rebuilds when they change).
fn write_packs(root: &Path, packs: &[(String, PathBuf)]) {
    let mut code = String::from("pub(super) const MODULES: &[(&str, &str)] = &[\n");
    for (relative, path) in packs {
        code.push_str(&format!(
            "    ({relative:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    code.push_str(&format!(
        "pub(super) const README: &str = include_str!({:?});\n",
        root.join("policies")
            .join("README.md")
            .display()
            .to_string()
    ));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    std::fs::write(out.join("builtin_packs.rs"), code).expect("OUT_DIR is writable");
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => collect(&path, out),
            Ok(kind) if kind.is_file() => out.push(path),
            _ => {}
        }
    }
}
