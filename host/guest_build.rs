// Builds WebAssembly guest crates of this workspace for `wasm32-wasip2`.
// Shared by `host/build.rs` (bundled plugins) and `tests/build.rs` (fixture
// plugins) through `include!`, so there is one way guests get built.
//
// The nested cargo uses its own target folder (`target/wasm`): the outer
// cargo holds a lock on the main one for the whole build.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Adds the `wasm32-wasip2` target to the active rustup toolchain when it is
/// missing. rustup installs the targets `rust-toolchain.toml` lists only when
/// it installs the toolchain itself; a toolchain that was already there
/// (a machine image, an older checkout) lacks it, and the first
/// `cargo run … serve` would stop on it. Without rustup, nothing to do: the
/// build below then says what is missing.
fn ensure_wasm_target() {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    let Ok(installed) = installed else { return };
    if String::from_utf8_lossy(&installed.stdout).lines().any(|t| t.trim() == "wasm32-wasip2") {
        return;
    }
    println!("cargo:warning=adding the wasm32-wasip2 target to the Rust toolchain (rustup target add wasm32-wasip2)");
    let _ = Command::new("rustup").args(["target", "add", "wasm32-wasip2"]).status();
}

/// Builds `package` (with `features`) and returns the component's path.
fn build_guest(workspace: &Path, package: &str, features: &[&str], target_dir_suffix: &str) -> PathBuf {
    ensure_wasm_target();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = workspace.join("target").join(format!("wasm{target_dir_suffix}"));
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--quiet", "--profile", "plugin", "--target", "wasm32-wasip2", "--package", package])
        .arg("--target-dir")
        .arg(&target_dir);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    // Variables the outer build sets for the host's own compilation must not
    // leak into the guest build (clippy's wrapper, host rustflags, …).
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
    ] {
        command.env_remove(var);
    }
    let status = command.status().unwrap_or_else(|e| panic!("cannot run cargo for {package}: {e}"));
    assert!(status.success(), "building guest {package} for wasm32-wasip2 failed ({status}); run `rustup target add wasm32-wasip2`");
    target_dir.join("wasm32-wasip2").join("plugin").join(format!("{}.wasm", package.replace('-', "_")))
}

fn watch_guest_sources(workspace: &Path) {
    // Cargo.toml: the workspace manifest holds the guests' `plugin` profile.
    for path in ["sdk", "wit", "plugins", "Cargo.toml", "Cargo.lock", "tests/fixtures"] {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }
}
