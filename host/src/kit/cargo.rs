//! `switchboard plugin build`: `cargo build --target wasm32-wasip2` in a
//! plugin crate, with cargo's progress on the caller's standard error, and
//! the path of the component it produced.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// The target every plugin is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Why no component was built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The folder has no `Cargo.toml`.
    #[error("{} is not a plugin crate (no Cargo.toml); create one with `switchboard plugin new NAME`", .0.display())]
    NotACrate(PathBuf),
    /// `rustc` or `cargo` could not be started.
    #[error("cannot run {program}: {source}; install Rust with rustup (https://rustup.rs)")]
    NoToolchain {
        /// The program.
        program: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// The toolchain the crate builds with lacks the target.
    #[error(
        "the Rust target {TARGET} is not installed for the toolchain this crate builds with ({toolchain}); \
         add it by running `rustup target add {TARGET}` in {}", dir.display()
    )]
    MissingTarget {
        /// `rustc --version` of the toolchain.
        toolchain: String,
        /// The crate.
        dir: PathBuf,
    },
    /// cargo failed; its diagnostics are already on standard error.
    #[error("cargo build failed ({0}); see the errors above")]
    Failed(ExitStatus),
    /// cargo succeeded but reported no component of this crate.
    #[error("cargo built no .wasm for {}: is `crate-type = [\"cdylib\"]` set under [lib]?", .0.display())]
    NoComponent(PathBuf),
}

/// Builds the crate in `dir` with cargo profile `profile` and returns the
/// component's path. Cargo's progress and diagnostics go to standard error
/// as it runs.
pub fn build(dir: &Path, profile: &str) -> Result<PathBuf, BuildError> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NotACrate(dir.to_owned()));
    }
    check_target(dir)?;
    // `json-render-diagnostics`: cargo renders diagnostics and progress on
    // stderr as usual and reports artifacts as JSON lines on stdout.
    let mut child = Command::new("cargo")
        .current_dir(dir)
        .args(["build", "--target", TARGET, "--profile", profile])
        .args(["--message-format", "json-render-diagnostics"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| BuildError::NoToolchain {
            program: "cargo",
            source,
        })?;
    let manifest = std::fs::canonicalize(&manifest).unwrap_or(manifest);
    let mut component = None;
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(path) = wasm_artifact(&line, &manifest) {
            component = Some(path);
        }
    }
    let status = child.wait().map_err(|source| BuildError::NoToolchain {
        program: "cargo",
        source,
    })?;
    if !status.success() {
        return Err(BuildError::Failed(status));
    }
    component.ok_or_else(|| BuildError::NoComponent(dir.to_owned()))
}

/// Fails early, with the fix, when the crate's toolchain has no
/// `wasm32-wasip2` standard library (cargo's own error is "can't find crate
/// for `core`").
fn check_target(dir: &Path) -> Result<(), BuildError> {
    let rustc = |arg: &str| {
        Command::new("rustc")
            .current_dir(dir)
            .arg(arg)
            .output()
            .map_err(|source| BuildError::NoToolchain {
                program: "rustc",
                source,
            })
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let sysroot = rustc("--print=sysroot")?;
    // Unknown layout (not a rustup or standard install): let cargo decide.
    if sysroot.is_empty() || !Path::new(&sysroot).join("lib/rustlib").is_dir() {
        return Ok(());
    }
    if Path::new(&sysroot).join("lib/rustlib").join(TARGET).is_dir() {
        return Ok(());
    }
    Err(BuildError::MissingTarget {
        toolchain: rustc("--version")?,
        dir: std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned()),
    })
}

/// The `.wasm` of a `compiler-artifact` message about the crate at `manifest`.
fn wasm_artifact(line: &str, manifest: &Path) -> Option<PathBuf> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let from = message["manifest_path"].as_str().map(Path::new)?;
    if std::fs::canonicalize(from).ok()?.as_path() != manifest {
        return None;
    }
    message["filenames"]
        .as_array()?
        .iter()
        .filter_map(|f| f.as_str())
        .find(|f| f.ends_with(".wasm"))
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_component_of_this_crate_only() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, "").unwrap();
        let manifest = std::fs::canonicalize(manifest).unwrap();
        let line = |path: &Path, files: &str| {
            format!(
                r#"{{"reason":"compiler-artifact","manifest_path":{:?},"filenames":[{files}]}}"#,
                path.display().to_string()
            )
        };
        let ours = line(&manifest, r#""/t/x.rlib","/t/x.wasm""#);
        assert_eq!(wasm_artifact(&ours, &manifest), Some(PathBuf::from("/t/x.wasm")));
        let dependency = line(Path::new("/elsewhere/Cargo.toml"), r#""/t/y.wasm""#);
        assert_eq!(wasm_artifact(&dependency, &manifest), None);
        assert_eq!(wasm_artifact(r#"{"reason":"build-finished"}"#, &manifest), None);
        assert_eq!(wasm_artifact("not json", &manifest), None);
    }

    #[test]
    fn a_folder_without_a_crate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            build(dir.path(), "release"),
            Err(BuildError::NotACrate(_))
        ));
    }
}
