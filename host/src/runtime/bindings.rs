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

/// Host bindings for `switchboard:channel@0.2.0`: the 0.1.0 world plus the
/// exported `webhooks` interface.
///
/// 0.2.0 reuses the 0.1.0 interfaces unchanged, so every one of them maps
/// onto the module above: the imports link once for both versions, and the
/// shared `channel` export is one Rust type whichever version a plugin has.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.2.0",
        world: "switchboard:channel/channel-plugin@0.2.0",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "switchboard:channel/types@0.1.0": super::switchboard::channel::types,
            "switchboard:channel/http-client@0.1.0": super::switchboard::channel::http_client,
            "switchboard:channel/log@0.1.0": super::switchboard::channel::log,
            "switchboard:channel/clock@0.1.0": super::switchboard::channel::clock,
            "switchboard:channel/channel@0.1.0": super::exports::switchboard::channel::channel,
        },
    });

    /// The contract versions this module serves (semver-compatible with 0.2.0).
    pub const CONTRACT: semver::Version = semver::Version::new(0, 2, 0);
}
