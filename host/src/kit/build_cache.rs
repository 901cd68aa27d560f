//! Componentize output kept by what made it: a Python or JavaScript build
//! takes 7-20 s (more on a busy machine) and gives the same component for
//! the same project files, WIT and toolchain, so `plugin build` keeps each
//! project's last component under a key of those and copies it back instead
//! of running componentize-py or componentize-js again.
//!
//! The key is a SHA-256 of the toolchain's identity (its version, told by
//! the caller) and of every file of the project, by relative path and
//! content, the freshly written `wit/` included. Left out: what the build
//! writes or installs (`target/`, `.venv/`, `node_modules/`, `__pycache__/`)
//! and `.git/`. Anything else in the folder counts, so a stray file changes
//! the key and costs one build, never a stale component.
//!
//! The cache is a folder of `<project>-<key>.wasm` files (one per project
//! name: a new build replaces the older ones). Failing to read or write it
//! never fails a build; the build just runs.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Folders of a project that are not its sources.
const NOT_SOURCES: &[&str] = &["target", ".venv", "node_modules", "__pycache__", ".git"];

/// The key of a build of the project in `dir` with `toolchain` (a text
/// naming the toolchain and its version).
pub fn key(dir: &Path, toolchain: &str) -> std::io::Result<String> {
    let mut files = Vec::new();
    sources(dir, dir, &mut files)?;
    let mut hash = Sha256::new();
    // The layout of what is hashed; bump it when that changes.
    hash.update(b"switchboard polyglot build 1\0");
    hash.update(toolchain.as_bytes());
    hash.update([0]);
    for (relative, path) in files {
        hash.update(relative.as_bytes());
        hash.update([0]);
        hash.update(std::fs::read(&path)?);
        hash.update([0]);
    }
    Ok(hex::encode(&hash.finalize()[..16]))
}

/// Every file under `dir` that is a source, with its path relative to
/// `root` (with `/`), sorted so that the key does not depend on the order
/// the file system lists them in. Links to folders are not followed.
fn sources(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    let mut entries = std::fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
            if kind.is_dir() && !NOT_SOURCES.iter().any(|n| entry.file_name() == *n) {
                sources(root, &path, out)?;
            }
        } else if path.is_file() {
            let relative = path
                .strip_prefix(root)
                .expect("under the root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((relative, path));
        }
    }
    Ok(())
}

/// The build cache in `dir`.
pub struct BuildCache {
    dir: PathBuf,
}

impl BuildCache {
    /// A cache kept in `dir` (created on first store).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn entry(&self, project: &str, key: &str) -> PathBuf {
        self.dir.join(format!("{project}-{key}.wasm"))
    }

    /// Copies the component built for `project` under `key` to `out` and
    /// answers where it came from, or `None` when there is none (or it
    /// cannot be copied).
    pub fn restore(&self, project: &str, key: &str, out: &Path) -> Option<PathBuf> {
        let entry = self.entry(project, key);
        if !entry.is_file() {
            return None;
        }
        // Through a partial file: a copy cut short must not look built.
        let partial = out.with_extension(format!("wasm.partial-{}", std::process::id()));
        match std::fs::copy(&entry, &partial).and_then(|_| std::fs::rename(&partial, out)) {
            Ok(()) => Some(entry),
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                eprintln!("warning: cannot reuse the build in {}: {e}", entry.display());
                None
            }
        }
    }

    /// Keeps `built`, the component of `project` under `key`, in place of
    /// the project's older builds.
    pub fn store(&self, project: &str, key: &str, built: &Path) {
        let entry = self.entry(project, key);
        let partial = self
            .dir
            .join(format!(".{project}-{key}.partial-{}", std::process::id()));
        let stored = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::copy(built, &partial))
            .and_then(|_| std::fs::rename(&partial, &entry));
        if let Err(e) = stored {
            let _ = std::fs::remove_file(&partial);
            eprintln!("warning: cannot keep the build in {}: {e}", self.dir.display());
            return;
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for old in entries.flatten() {
            let name = old.file_name().to_string_lossy().into_owned();
            let older = name
                .strip_prefix(project)
                .and_then(|rest| rest.strip_prefix('-'))
                .and_then(|rest| rest.strip_suffix(".wasm"))
                // Only `<project>-<key>.wasm`, not `<project>-more-<key>.wasm`
                // of another project.
                .is_some_and(|k| k.len() == key.len() && k.bytes().all(|b| b.is_ascii_hexdigit()));
            if older && old.path() != entry {
                let _ = std::fs::remove_file(old.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.py"), "print('hi')\n").unwrap();
        std::fs::create_dir_all(dir.path().join("wit/deps")).unwrap();
        std::fs::write(dir.path().join("wit/world.wit"), "package a:b;\n").unwrap();
        dir
    }

    #[test]
    fn the_key_follows_sources_wit_and_toolchain_only() {
        let dir = project();
        let key = |toolchain| super::key(dir.path(), toolchain).unwrap();
        let first = key("componentize-py 0.25.1");
        assert_eq!(
            first,
            key("componentize-py 0.25.1"),
            "the same inputs, the same key"
        );
        assert_ne!(first, key("componentize-py 0.25.2"), "another toolchain");

        // What the build writes or installs does not count.
        for made in ["target", ".venv/bin", "node_modules/x", "__pycache__", ".git"] {
            std::fs::create_dir_all(dir.path().join(made)).unwrap();
            std::fs::write(dir.path().join(made).join("f"), "anything").unwrap();
        }
        assert_eq!(first, key("componentize-py 0.25.1"));

        std::fs::write(dir.path().join("wit/world.wit"), "package a:c;\n").unwrap();
        let wit_changed = key("componentize-py 0.25.1");
        assert_ne!(first, wit_changed, "another WIT");
        std::fs::write(dir.path().join("wit/deps/x.wit"), "").unwrap();
        assert_ne!(
            wit_changed,
            key("componentize-py 0.25.1"),
            "a new file, even empty"
        );

        let before = key("componentize-py 0.25.1");
        std::fs::write(dir.path().join("app.py"), "print('ho')\n").unwrap();
        assert_ne!(before, key("componentize-py 0.25.1"), "another source");
        // A file's name counts, not only its content.
        let before = key("componentize-py 0.25.1");
        std::fs::rename(dir.path().join("app.py"), dir.path().join("main.py")).unwrap();
        assert_ne!(before, key("componentize-py 0.25.1"), "a renamed source");
    }

    #[test]
    fn a_stored_build_comes_back_and_replaces_the_older_ones() {
        let dir = project();
        let cache = BuildCache::new(dir.path().join("cache"));
        let out = dir.path().join("out.wasm");
        assert_eq!(cache.restore("py-chat", "aa11", &out), None, "nothing stored yet");

        let built = dir.path().join("built.wasm");
        std::fs::write(&built, b"component one").unwrap();
        cache.store("py-chat", "aa11", &built);
        // Another project whose name starts the same is not an older build.
        cache.store("py-chat-two", "cc33", &built);
        assert!(cache.restore("py-chat", "aa11", &out).is_some());
        assert_eq!(std::fs::read(&out).unwrap(), b"component one");

        std::fs::write(&built, b"component two").unwrap();
        cache.store("py-chat", "bb22", &built);
        assert_eq!(cache.restore("py-chat", "aa11", &out), None, "replaced");
        assert!(cache.restore("py-chat", "bb22", &out).is_some());
        assert_eq!(std::fs::read(&out).unwrap(), b"component two");
        assert!(cache.restore("py-chat-two", "cc33", &out).is_some());
        let mut names: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["py-chat-bb22.wasm", "py-chat-two-cc33.wasm"],
            "no partial files left"
        );
    }
}
