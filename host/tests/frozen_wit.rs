//! Released contract folders (`wit/since_v*/`) are frozen.
//!
//! `wit/FROZEN.sha256` lists every file in them (`sha256sum` format, paths
//! relative to `wit/`; a symbolic link is listed as `symlink:<target>`, not
//! followed). This recomputes the list and fails when a listed file changed
//! or disappeared, when a released folder gained a file, or when a
//! `since_v*` folder exists that the manifest does not list: releasing a
//! contract version is deliberate, and its lines are then added to the
//! manifest (the failure prints them).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

const FROZEN: &str = "released contract folders are frozen; add a new since_vX.Y.Z folder instead";

/// Where the manifest lives, relative to `wit/`.
const MANIFEST: &str = "FROZEN.sha256";

/// Every entry of the `since_v*` folders of `wit`: path relative to `wit`
/// (with `/`) → the sha256 of a file, or `symlink:<target>` for a link.
fn entries(wit: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut top: Vec<_> = fs::read_dir(wit)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", wit.display()))
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.starts_with("since_v"))
        .collect();
    top.sort();
    for name in top {
        walk(&wit.join(&name), &name, &mut found);
    }
    found
}

fn walk(path: &Path, relative: &str, found: &mut BTreeMap<String, String>) {
    let meta = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("cannot stat {}: {e}", path.display()));
    if meta.file_type().is_symlink() {
        let target =
            fs::read_link(path).unwrap_or_else(|e| panic!("cannot read link {}: {e}", path.display()));
        found.insert(
            relative.to_owned(),
            format!("symlink:{}", target.to_string_lossy()),
        );
    } else if meta.is_dir() {
        let mut names: Vec<_> = fs::read_dir(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
            .map(|e| {
                e.expect("a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        for name in names {
            walk(&path.join(&name), &format!("{relative}/{name}"), found);
        }
    } else {
        let bytes = fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        found.insert(relative.to_owned(), hex::encode(Sha256::digest(bytes)));
    }
}

/// The manifest's entries; `#` lines and blank lines are comments.
fn parse(manifest: &str) -> BTreeMap<String, String> {
    manifest
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (digest, path) = line
                .split_once("  ")
                .or_else(|| line.split_once(" *"))
                .unwrap_or_else(|| panic!("wit/{MANIFEST}: malformed line {line:?}"));
            (path.to_owned(), digest.to_owned())
        })
        .collect()
}

/// The manifest lines for these entries.
fn lines<'a>(entries: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    entries
        .into_iter()
        .map(|(path, digest)| format!("{digest}  {path}\n"))
        .collect()
}

/// The released folder a path belongs to (its first component).
fn folder(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

/// Every difference between the folders in `wit` and the manifest, one
/// message each; empty when they agree.
fn problems(wit: &Path, manifest: &str) -> Vec<String> {
    let frozen = parse(manifest);
    let actual = entries(wit);
    let released: BTreeSet<&str> = frozen.keys().map(|p| folder(p)).collect();
    let mut problems = Vec::new();

    let mut unlisted: BTreeMap<&str, BTreeMap<&String, &String>> = BTreeMap::new();
    for (path, digest) in &actual {
        if !released.contains(folder(path)) {
            unlisted.entry(folder(path)).or_default().insert(path, digest);
        }
    }
    for (name, entries) in unlisted {
        problems.push(format!(
            "wit/{name} is not listed in wit/{MANIFEST}: releasing a contract version is deliberate \
             (it also needs host/src/runtime/wit/{}.rs in the list of versions). Once it is released, \
             add its lines to wit/{MANIFEST}:\n{}",
            name.replace('.', "_"),
            lines(entries)
        ));
    }

    for (path, expected) in &frozen {
        match actual.get(path) {
            None => problems.push(format!("wit/{path} was removed: {FROZEN}")),
            Some(digest) if digest != expected => problems.push(format!(
                "wit/{path} changed (now {digest}, frozen as {expected}): {FROZEN}"
            )),
            Some(_) => {}
        }
    }
    for path in actual.keys() {
        if released.contains(folder(path)) && !frozen.contains_key(path) {
            problems.push(format!("wit/{path} was added to a released folder: {FROZEN}"));
        }
    }
    problems
}

#[test]
fn released_contract_folders_are_frozen() {
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let manifest =
        fs::read_to_string(wit.join(MANIFEST)).unwrap_or_else(|e| panic!("cannot read wit/{MANIFEST}: {e}"));
    let problems = problems(&wit, &manifest);
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    assert!(
        !parse(&manifest).is_empty(),
        "wit/{MANIFEST} lists nothing: every released folder must be in it"
    );
}

/// A scratch `wit/` with one released folder and its manifest.
fn scratch() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let released = dir.path().join("since_v0.1.0");
    fs::create_dir_all(released.join("deps")).unwrap();
    fs::write(released.join("world.wit"), "package a:b@0.1.0;\n").unwrap();
    fs::write(released.join("deps/types.wit"), "package a:c@0.1.0;\n").unwrap();
    fs::write(dir.path().join("README.md"), "not released\n").unwrap();
    let manifest = format!("# comment\n\n{}", lines(&entries(dir.path())));
    (dir, manifest)
}

#[test]
fn an_unchanged_folder_passes() {
    let (dir, manifest) = scratch();
    assert_eq!(problems(dir.path(), &manifest), Vec::<String>::new());
}

#[test]
fn a_changed_file_is_named() {
    let (dir, manifest) = scratch();
    fs::write(
        dir.path().join("since_v0.1.0/deps/types.wit"),
        "package a:c@0.1.1;\n",
    )
    .unwrap();
    let problems = problems(dir.path(), &manifest);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("wit/since_v0.1.0/deps/types.wit changed"),
        "{}",
        problems[0]
    );
    assert!(problems[0].ends_with(FROZEN), "{}", problems[0]);
}

#[test]
fn a_removed_or_added_file_fails() {
    let (dir, manifest) = scratch();
    fs::remove_file(dir.path().join("since_v0.1.0/world.wit")).unwrap();
    fs::write(dir.path().join("since_v0.1.0/extra.wit"), "").unwrap();
    let problems = problems(dir.path(), &manifest).join("\n");
    assert!(
        problems.contains("wit/since_v0.1.0/world.wit was removed: "),
        "{problems}"
    );
    assert!(
        problems.contains("wit/since_v0.1.0/extra.wit was added to a released folder: "),
        "{problems}"
    );
}

#[test]
fn a_folder_not_in_the_manifest_fails_and_its_lines_are_printed() {
    let (dir, manifest) = scratch();
    fs::create_dir(dir.path().join("since_v0.2.0")).unwrap();
    fs::write(dir.path().join("since_v0.2.0/world.wit"), "package a:b@0.2.0;\n").unwrap();
    let problems = problems(dir.path(), &manifest);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("wit/since_v0.2.0 is not listed in wit/FROZEN.sha256"));
    assert!(problems[0].contains("host/src/runtime/wit/since_v0_2_0.rs"));
    let digest = hex::encode(Sha256::digest(b"package a:b@0.2.0;\n"));
    assert!(
        problems[0].ends_with(&format!("{digest}  since_v0.2.0/world.wit\n")),
        "{}",
        problems[0]
    );
}

#[cfg(unix)]
#[test]
fn a_link_is_listed_as_a_link_and_may_not_be_retargeted() {
    let (dir, _) = scratch();
    let deps = dir.path().join("since_v0.2.0/deps");
    fs::create_dir_all(&deps).unwrap();
    std::os::unix::fs::symlink("../../since_v0.1.0", deps.join("b-0.1.0")).unwrap();
    let found = entries(dir.path());
    assert_eq!(
        found.get("since_v0.2.0/deps/b-0.1.0").map(String::as_str),
        Some("symlink:../../since_v0.1.0"),
        "a link is not followed"
    );
    let manifest = lines(&found);
    fs::remove_file(deps.join("b-0.1.0")).unwrap();
    std::os::unix::fs::symlink("../../since_v0.1.0/deps", deps.join("b-0.1.0")).unwrap();
    let problems = problems(dir.path(), &manifest);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("wit/since_v0.2.0/deps/b-0.1.0 changed"),
        "{}",
        problems[0]
    );
}
