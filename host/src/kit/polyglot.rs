//! `switchboard plugin build` for plugins written in Python and JavaScript:
//! the language's component toolchain, installed into the project on first
//! use (a `.venv` with componentize-py, `node_modules` with
//! componentize-js), then run against the WIT the binary carries.
//!
//! The versions are pinned to the ones the host is tested with
//! (`tests/run` installs the same): componentize-py [`COMPONENTIZE_PY`],
//! componentize-js [`COMPONENTIZE_JS`] (through the project's `package.json`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::wit;

/// The componentize-py release the host is tested with.
pub const COMPONENTIZE_PY: &str = "0.25.1";
/// The componentize-js release the host is tested with.
pub const COMPONENTIZE_JS: &str = "0.23.0";

/// A plugin project's language, from the files in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// A cargo crate (`Cargo.toml`).
    Rust,
    /// `app.py`, built by componentize-py.
    Python,
    /// `package.json` and `build.mjs`, built by componentize-js.
    JavaScript,
}

impl Language {
    /// The language of the project in `dir`, if it is one.
    pub fn of(dir: &Path) -> Option<Self> {
        if dir.join("Cargo.toml").is_file() {
            Some(Self::Rust)
        } else if dir.join("app.py").is_file() {
            Some(Self::Python)
        } else if dir.join("package.json").is_file() && dir.join("build.mjs").is_file() {
            Some(Self::JavaScript)
        } else {
            None
        }
    }
}

/// Why no component was built.
#[derive(Debug, thiserror::Error)]
pub enum PolyglotError {
    /// A program the build needs is not installed.
    #[error("cannot run {program}: {source}; {hint}")]
    Missing {
        /// The program.
        program: String,
        /// What to install.
        hint: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// A step failed; its output is already on standard error.
    #[error("{step} failed ({status}); see its output above")]
    Failed {
        /// What ran.
        step: String,
        /// Its exit status.
        status: std::process::ExitStatus,
    },
    /// Writing the WIT or the output folder failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Builds the Python or JavaScript project in `dir` into
/// `dir/target/<folder name>.wasm` and answers its path. Every tool's
/// output goes to standard error as it runs.
pub fn build(dir: &Path, language: Language) -> Result<PathBuf, PolyglotError> {
    let dir = std::fs::canonicalize(dir).map_err(|source| PolyglotError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| PolyglotError::Io { path, source }
    };
    let target = dir.join("target");
    std::fs::create_dir_all(&target).map_err(io(&target))?;
    let out = target.join(format!("{name}.wasm"));
    // The WIT the binary carries, always: a project never builds against a
    // contract this host does not have.
    let wit_dir = dir.join("wit");
    wit::write(wit::LATEST, &wit_dir).map_err(|e| match e {
        wit::WitError::Io { path, source } => PolyglotError::Io { path, source },
        wit::WitError::UnknownVersion { .. } => unreachable!("the latest version is carried"),
    })?;
    let world = wit::world(wit::LATEST).expect("the latest version is carried");
    match language {
        Language::Python => {
            let componentize = componentize_py(&dir)?;
            run(
                Command::new(&componentize)
                    .current_dir(&dir)
                    .arg("-d")
                    .arg(&wit_dir)
                    .args(["-w", world, "componentize", "-p", ".", "app", "-o"])
                    .arg(&out),
                "componentize-py",
                "install Python 3 (python3 with its venv module)",
            )?;
        }
        Language::JavaScript => {
            if !dir
                .join("node_modules/@bytecodealliance/componentize-js")
                .is_dir()
            {
                eprintln!(
                    "installing componentize-js {COMPONENTIZE_JS} into node_modules (first build only)"
                );
                run(
                    Command::new("npm")
                        .current_dir(&dir)
                        .args(["install", "--no-audit", "--no-fund"]),
                    "npm install",
                    "install Node.js 20 or later, with npm",
                )?;
            }
            run(
                Command::new("node")
                    .current_dir(&dir)
                    .arg("build.mjs")
                    .arg(&out)
                    .arg(&wit_dir),
                "node build.mjs (componentize-js)",
                "install Node.js 20 or later",
            )?;
        }
        Language::Rust => unreachable!("Rust crates are built by cargo.rs"),
    }
    Ok(out)
}

/// `$SWITCHBOARD_COMPONENTIZE_PY`, else the project's `.venv`, which is
/// created with componentize-py in it on first use.
fn componentize_py(dir: &Path) -> Result<PathBuf, PolyglotError> {
    if let Some(given) = std::env::var_os("SWITCHBOARD_COMPONENTIZE_PY").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(given));
    }
    let venv = dir.join(".venv");
    let installed = venv.join("bin").join("componentize-py");
    if installed.is_file() {
        return Ok(installed);
    }
    eprintln!(
        "installing componentize-py {COMPONENTIZE_PY} into {} (first build only)",
        venv.display()
    );
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "python3 -m venv",
        "install Python 3 (python3 with its venv module)",
    )?;
    run(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--disable-pip-version-check", "--progress-bar", "off"])
            .arg(format!("componentize-py=={COMPONENTIZE_PY}")),
        "pip install componentize-py",
        "check the network access to PyPI",
    )?;
    Ok(installed)
}

/// Runs `command` with its output on standard error.
fn run(command: &mut Command, step: &str, hint: &'static str) -> Result<(), PolyglotError> {
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .status()
        .map_err(|source| PolyglotError::Missing {
            program: command.get_program().to_string_lossy().into_owned(),
            hint,
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(PolyglotError::Failed {
            step: step.to_owned(),
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_told_by_their_files() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(Language::of(root.path()), None);
        std::fs::write(root.path().join("package.json"), "{}").unwrap();
        assert_eq!(
            Language::of(root.path()),
            None,
            "package.json alone is not a plugin"
        );
        std::fs::write(root.path().join("build.mjs"), "").unwrap();
        assert_eq!(Language::of(root.path()), Some(Language::JavaScript));
        std::fs::write(root.path().join("app.py"), "").unwrap();
        assert_eq!(Language::of(root.path()), Some(Language::Python));
        std::fs::write(root.path().join("Cargo.toml"), "").unwrap();
        assert_eq!(Language::of(root.path()), Some(Language::Rust));
    }
}
