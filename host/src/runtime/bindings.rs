//! Host bindings for the frozen contract `switchboard:channel@0.1.0`.
//!
//! Generated from `wit/since_v0.1.0`. When a new contract version ships, it
//! gets a sibling module generated from its own frozen folder, and this one
//! stays as it is so that every 0.1 plugin keeps loading.

wasmtime::component::bindgen!({
    path: "../wit/since_v0.1.0",
    world: "channel-plugin",
    imports: { default: async | trappable },
    exports: { default: async },
});

/// The contract versions this module serves (semver-compatible with 0.1.0).
pub const CONTRACT: semver::Version = semver::Version::new(0, 1, 0);
