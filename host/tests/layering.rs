//! The layering rule, checked: dependencies inside the server crate run one
//! way, from entry points down to the contract's types. A module may use
//! modules of its own layer or below, never above. Also: only `api/` knows
//! axum, only `store/` knows SQL (sqlx), only `runtime/` knows wasmtime.
//!
//! The table below is the picture in ARCHITECTURE.md; changing one means
//! changing the other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level modules of `host/src`, by layer: 0 is the bottom.
const LAYERS: &[(usize, &[&str])] = &[
    (0, &["caps", "chatwoot", "contract", "secrets"]),
    (1, &["store", "runtime", "blobs"]),
    (
        2,
        &[
            "accounts",
            "conversations",
            "plugin_host",
            "channel_accounts",
            "live",
        ],
    ),
    (3, &["app"]),
    (4, &["api", "web", "pipeline", "kit"]),
    (5, &["cli", "config", "main", "lib"]),
];

/// Crates only these modules may name (the two HTTP entry points, the
/// store, the runtime). The `metrics` facade is not among them: its macros
/// are called where things happen (app/, plugin_host/, runtime/, api/);
/// only `cli/serve.rs` installs the exporter.
const OWNERS: &[(&str, &[&str])] = &[
    ("axum", &["api", "web"]),
    ("sqlx", &["store"]),
    ("wasmtime", &["runtime"]),
    ("object_store", &["blobs"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .find(|(_, names)| names.contains(&module))
        .map(|(layer, _)| *layer)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`api/auth.rs` → `api`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_owned()
}

/// Code lines only: comments say what other modules do, which is fine.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line.trim_start()))
        .filter(|(_, line)| !line.starts_with("//"))
}

/// Every `crate::NAME` a line refers to, including `use crate::{a, b::c}`.
fn crate_refs(line: &str) -> Vec<String> {
    let mut refs = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    refs.push(name);
                }
            }
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            refs.push(name);
        }
        rest = after;
    }
    refs
}

#[test]
fn modules_depend_only_on_their_layer_or_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut breaches = Vec::new();
    let mut unknown = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(own) = layer_of(&module) else {
            unknown.insert(module, file.display().to_string());
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read a source file");
        for (line_no, line) in code_lines(&text) {
            for used in crate_refs(line) {
                match layer_of(&used) {
                    Some(layer) if layer > own => breaches.push(format!(
                        "{}:{line_no}: `{module}` (layer {own}) uses `crate::{used}` (layer {layer})",
                        file.strip_prefix(&src).unwrap().display()
                    )),
                    Some(_) => {}
                    None => unknown
                        .insert(used, file.display().to_string())
                        .map_or((), |_| ()),
                }
            }
            for (krate, owner) in OWNERS {
                let named = line.contains(&format!("{krate}::")) || line.contains(&format!("use {krate}"));
                if named && !owner.contains(&module.as_str()) && !line.contains(&format!("{krate}=")) {
                    breaches.push(format!(
                        "{}:{line_no}: only {owner:?} may use {krate}",
                        file.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from the layer table in host/tests/layering.rs (and ARCHITECTURE.md): {unknown:?}"
    );
    assert!(
        breaches.is_empty(),
        "dependencies must run one way (entry points → app → domain → store/runtime → contract/caps):\n{}",
        breaches.join("\n")
    );
}

#[test]
fn the_checker_sees_grouped_and_plain_imports() {
    assert_eq!(crate_refs("use crate::{app::AppState, store};"), ["app", "store"]);
    assert_eq!(crate_refs("let x = crate::api::router(s);"), ["api"]);
    assert_eq!(layer_of("api"), Some(4));
    assert!(layer_of("app") < layer_of("api"));
}
