//! Builds the fixture plugins (`tests/fixtures/*`) once per build and tells
//! the suites where they are (`PROBE_*_WASM`).

include!("../host/guest_build.rs");

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let workspace = Path::new(&manifest_dir)
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    watch_guest_sources(&workspace);
    // Each variant is its own cargo invocation, so one variant's features
    // (notably `contract-v0-1`, which switches the SDK's contract) never
    // unify into another's build. PROBE_V1 is a real contract 0.1.0 plugin
    // and PROBE_V2 a 0.2.0 one: the upgrade test crosses contract versions.
    for (variable, features) in [
        ("PROBE_V1_WASM", &["contract-v0-1"][..]),
        ("PROBE_V2_WASM", &["v2"][..]),
        ("PROBE_BAD_MANIFEST_WASM", &["bad-manifest"][..]),
        ("PROBE_FUTURE_CONTRACT_WASM", &["future-contract"][..]),
    ] {
        let built = build_guest(&workspace, "switchboard-fixture-probe", features, "");
        let copy = out_dir.join(format!("{}.wasm", variable.to_ascii_lowercase()));
        std::fs::copy(&built, &copy).expect("copy fixture");
        println!("cargo:rustc-env={variable}={}", copy.display());
    }
}
