//! The contract carried in the binary: `switchboard plugin wit` writes the
//! WIT of a released version into a folder, so a plugin written in any
//! language builds against exactly what this host supports, without a
//! checkout. The files are the frozen ones of `wit/since_v*/`, byte for
//! byte; a folder that depends on an older version gets it under `deps/`,
//! as wit-parser resolves it.

use std::path::{Path, PathBuf};

/// The files of one version's WIT folder, by path inside it.
struct Version {
    version: &'static str,
    world: &'static str,
    files: &'static [(&'static str, &'static str)],
}

const V0_1_0_TYPES: &str = include_str!("../../../wit/since_v0.1.0/types.wit");
const V0_1_0_WORLD: &str = include_str!("../../../wit/since_v0.1.0/world.wit");
const V0_2_0_WORLD: &str = include_str!("../../../wit/since_v0.2.0/world.wit");

/// Newest first.
const VERSIONS: &[Version] = &[
    Version {
        version: "0.2.0",
        world: "switchboard:channel/channel-plugin@0.2.0",
        files: &[
            ("world.wit", V0_2_0_WORLD),
            ("deps/channel-0.1.0/types.wit", V0_1_0_TYPES),
            ("deps/channel-0.1.0/world.wit", V0_1_0_WORLD),
        ],
    },
    Version {
        version: "0.1.0",
        world: "switchboard:channel/channel-plugin@0.1.0",
        files: &[("types.wit", V0_1_0_TYPES), ("world.wit", V0_1_0_WORLD)],
    },
];

/// The newest contract version.
pub const LATEST: &str = VERSIONS[0].version;

/// The versions this binary carries, newest first.
pub fn versions() -> impl Iterator<Item = &'static str> {
    VERSIONS.iter().map(|v| v.version)
}

/// The world a plugin of `version` targets (`…/channel-plugin@0.2.0`).
pub fn world(version: &str) -> Option<&'static str> {
    VERSIONS.iter().find(|v| v.version == version).map(|v| v.world)
}

/// Why no WIT was written.
#[derive(Debug, thiserror::Error)]
pub enum WitError {
    /// Not a version this binary carries.
    #[error("no contract version {version}; this binary carries {}", versions().collect::<Vec<_>>().join(", "))]
    UnknownVersion {
        /// The version asked for.
        version: String,
    },
    /// Writing failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Writes the WIT of `version` into `dir` (created if needed; files of the
/// same names are replaced, others left alone). Answers the files written.
pub fn write(version: &str, dir: &Path) -> Result<Vec<PathBuf>, WitError> {
    let found = VERSIONS
        .iter()
        .find(|v| v.version == version)
        .ok_or_else(|| WitError::UnknownVersion {
            version: version.to_owned(),
        })?;
    let mut written = Vec::new();
    for (path, text) in found.files {
        let target = dir.join(path);
        let io = |source| WitError::Io {
            path: target.clone(),
            source,
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&target, text).map_err(io)?;
        written.push(target);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_contract_is_carried_as_frozen() {
        for version in versions() {
            let parsed = semver::Version::parse(version).unwrap();
            assert!(
                crate::runtime::supports_contract(&parsed),
                "{version} is carried but not supported"
            );
        }
        let supported = crate::runtime::SUPPORTED_CONTRACTS.to_string();
        assert_eq!(supported.matches(".x").count(), VERSIONS.len(), "{supported}");
        let root = tempfile::tempdir().unwrap();
        let files = write(LATEST, root.path()).unwrap();
        assert_eq!(files.len(), 3);
        let world = std::fs::read_to_string(root.path().join("world.wit")).unwrap();
        assert!(world.contains("0.2.0"), "{world}");
        assert!(root.path().join("deps/channel-0.1.0/types.wit").is_file());
        assert!(matches!(
            write("9.9.9", root.path()),
            Err(WitError::UnknownVersion { .. })
        ));
        assert_eq!(
            super::world("0.1.0"),
            Some("switchboard:channel/channel-plugin@0.1.0")
        );
    }
}
