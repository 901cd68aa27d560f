//! Contract `switchboard:channel@0.1.0` (`wit/since_v0.1.0`), adapted onto
//! `latest`.
//!
//! Owns the bindings of the 0.1.0 world and how a 0.1 plugin reaches the
//! host. Every 0.1.0 interface is one that latest still uses unchanged, so
//! the bindings map each onto latest's generated module (`with:`): the
//! imports are latest's host traits (linked once for every version), and the
//! `channel` export is latest's Rust type, so the verbs delegate as they are.
//! What 0.1 lacks (`webhooks`, from 0.2) answers `None`, which the host turns
//! into an `unsupported` error naming this version.
//!
//! 0.1 is the oldest version, so it is also the fallback for a component
//! that exports no version's marker: its bindings then say what is missing
//! (the `channel@0.1.0` export).

use super::Plugin;

wasmtime::component::bindgen!({
    path: "../wit/since_v0.1.0",
    world: "channel-plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "switchboard:channel/types@0.1.0": super::latest::types,
        "switchboard:channel/http-client@0.1.0": super::latest::http_client,
        "switchboard:channel/log@0.1.0": super::latest::log,
        "switchboard:channel/clock@0.1.0": super::latest::clock,
        "switchboard:channel/channel@0.1.0": super::latest::channel,
    },
});

super::contract_entry!(version: (0, 1, 0), marker: "switchboard:channel/channel@0.1.", refusal: "it does not export the interface switchboard:channel/channel");

impl Plugin for ChannelPlugin {
    super::channel_verbs_of_latest!(switchboard_channel_channel);
}
