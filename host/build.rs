//! Builds the bundled channel plugins (`plugins/*`) into components and
//! embeds them in the binary, so `switchboard serve` installs them on first
//! start with nothing else to do.

include!("guest_build.rs");

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let workspace = Path::new(&manifest_dir)
        .parent()
        .expect("host/ is inside the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    watch_guest_sources(&workspace);
    // `sqlx::migrate!` embeds the migrations; a build script that names what
    // it watches must name them too, or a new migration is not built in.
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("migrations").display()
    );
    let mut entries = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(workspace.join("plugins"))
        .expect("plugins/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    dirs.sort();
    for dir in dirs {
        let package = package_name(&dir.join("Cargo.toml"));
        let built = build_guest(&workspace, &package, &[], "");
        let copy = out_dir.join(built.file_name().expect("a file"));
        std::fs::copy(&built, &copy).expect("copy built plugin");
        entries.push(format!(
            "({package:?}, include_bytes!({:?}) as &[u8])",
            copy.display().to_string()
        ));
    }
    std::fs::write(out_dir.join("bundled.rs"), format!("&[{}]", entries.join(", ")))
        .expect("write bundled.rs");
}

/// The `name` of a `[package]` (the first `name =` line of its manifest).
fn package_name(manifest: &Path) -> String {
    let text = std::fs::read_to_string(manifest).expect("read plugin Cargo.toml");
    text.lines()
        .find_map(|line| {
            line.trim().strip_prefix("name").map(|rest| {
                rest.trim()
                    .trim_start_matches('=')
                    .trim()
                    .trim_matches('"')
                    .to_owned()
            })
        })
        .expect("plugin Cargo.toml has a name")
}
