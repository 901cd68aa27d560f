//! `switchboard plugin build` for plugins written in Python and JavaScript:
//! the language's component toolchain, installed into the project on first
//! use (a `.venv` with componentize-py, `node_modules` with
//! componentize-js), then run against the WIT the binary carries.
//!
//! The versions are pinned to the ones the host is tested with
//! (`tests/run` installs the same): componentize-py [`COMPONENTIZE_PY`],
//! componentize-js [`COMPONENTIZE_JS`] (through the project's `package.json`).
//!
//! A build of the same project files, WIT and toolchain version as an
//! earlier one is not run again: its component comes from the
//! [`BuildCache`](super::build_cache::BuildCache).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::build_cache::{self, BuildCache};
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

/// A component `build` made or reused.
#[derive(Debug)]
pub struct Built {
    /// `target/<folder name>.wasm` in the project.
    pub path: PathBuf,
    /// The cache entry it was copied from, when nothing ran.
    pub reused: Option<PathBuf>,
}

/// Builds the Python or JavaScript project in `dir` into
/// `dir/target/<folder name>.wasm`, or copies the build of the same inputs
/// from `cache`. Every tool's output goes to standard error as it runs.
pub fn build(dir: &Path, language: Language, cache: Option<&BuildCache>) -> Result<Built, PolyglotError> {
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
    let componentize = match language {
        Language::Python => Some(componentize_py(&dir)?),
        Language::JavaScript => {
            install_componentize_js(&dir)?;
            None
        }
        Language::Rust => unreachable!("Rust crates are built by cargo.rs"),
    };
    // Read after the WIT is written, so the key covers the WIT too. A
    // project that cannot be read whole is built without the cache (the
    // build then says what it cannot read).
    let key = match cache {
        Some(_) => {
            let toolchain = toolchain(&dir, componentize.as_deref())?;
            build_cache::key(&dir, &toolchain)
                .inspect_err(|e| eprintln!("warning: building without the cache: {e}"))
                .ok()
        }
        None => None,
    };
    if let (Some(cache), Some(key)) = (cache, &key)
        && let Some(entry) = cache.restore(&name, key, &out)
    {
        return Ok(Built {
            path: out,
            reused: Some(entry),
        });
    }
    match componentize {
        Some(componentize) => {
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
        None => {
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
    }
    if let (Some(cache), Some(key)) = (cache, &key) {
        cache.store(&name, key, &out);
    }
    Ok(Built {
        path: out,
        reused: None,
    })
}

/// `npm install` in a project that has no componentize-js yet.
fn install_componentize_js(dir: &Path) -> Result<(), PolyglotError> {
    if componentize_js_package(dir).is_file() {
        return Ok(());
    }
    eprintln!("installing componentize-js {COMPONENTIZE_JS} into node_modules (first build only)");
    run(
        Command::new("npm")
            .current_dir(dir)
            .args(["install", "--no-audit", "--no-fund"]),
        "npm install",
        "install Node.js 20 or later, with npm",
    )
}

fn componentize_js_package(dir: &Path) -> PathBuf {
    dir.join("node_modules/@bytecodealliance/componentize-js/package.json")
}

/// What names the toolchain in a build's key: componentize-py's
/// `--version`, or componentize-js's installed version and node's.
fn toolchain(dir: &Path, componentize_py: Option<&Path>) -> Result<String, PolyglotError> {
    match componentize_py {
        Some(program) => output(
            Command::new(program).arg("--version"),
            "install Python 3 (python3 with its venv module)",
        ),
        None => {
            let package = componentize_js_package(dir);
            let text = std::fs::read_to_string(&package).map_err(|source| PolyglotError::Io {
                path: package.clone(),
                source,
            })?;
            // The whole file: its version, and anything else that would
            // tell one install from another.
            let node = output(
                Command::new("node").arg("--version"),
                "install Node.js 20 or later",
            )?;
            Ok(format!("componentize-js {text}\nnode {node}"))
        }
    }
}

/// Runs `command` and answers its standard output.
fn output(command: &mut Command, hint: &'static str) -> Result<String, PolyglotError> {
    let out = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| PolyglotError::Missing {
            program: command.get_program().to_string_lossy().into_owned(),
            hint,
            source,
        })?;
    if !out.status.success() {
        return Err(PolyglotError::Failed {
            step: format!("{} --version", command.get_program().to_string_lossy()),
            status: out.status,
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
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
