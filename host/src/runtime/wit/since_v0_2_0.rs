//! Contract `switchboard:channel@0.2.0` (`wit/since_v0.2.0`), the newest:
//! this is `latest`.
//!
//! Owns the bindings generated from the folder as it is, and under stable
//! names the interfaces the rest of the runtime is written against (`types`,
//! `http_client`, `log`, `clock`, `channel`, `webhooks`): the host imports
//! implement latest's traits, the conversions take latest's types, and every
//! older version's file maps its interfaces onto these modules.
//!
//! 0.2.0 is the 0.1.0 world, whose interfaces it uses by reference (through
//! `deps/channel-0.1.0`, so they keep their `@0.1.0` names), plus the export
//! `webhooks`. A component implements 0.2 when it exports `webhooks@0.2.x`.
//!
//! When a newer version ships, this file becomes an adapter: its bindgen maps
//! its interfaces onto `super::latest` with `with:` (as `since_v0_1_0.rs`
//! does) and the aliases below go.

use wasmtime::Store;

use super::{Call, Plugin};
use crate::runtime::call::StoreData;

wasmtime::component::bindgen!({
    path: "../wit/since_v0.2.0",
    world: "switchboard:channel/channel-plugin@0.2.0",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::exports::switchboard::channel0_1_0::channel;
pub use self::exports::switchboard::channel0_2_0::webhooks;
pub use self::switchboard::channel0_1_0::{clock, http_client, log, types};

super::contract_entry!(version: (0, 2, 0), marker: "switchboard:channel/webhooks@0.2.", refusal: "it does not implement contract switchboard:channel");

impl Plugin for ChannelPlugin {
    super::channel_verbs_of_latest!(switchboard_channel0_1_0_channel);

    fn register_webhook<'a>(
        &'a self,
        store: &'a mut Store<StoreData>,
        settings: &'a types::Settings,
        callback_url: &'a str,
    ) -> Option<Call<'a, Result<webhooks::WebhookRegistration, types::ChannelError>>> {
        Some(Box::pin(
            self.switchboard_channel0_2_0_webhooks()
                .call_register_webhook(store, settings, callback_url),
        ))
    }

    fn current_webhook<'a>(
        &'a self,
        store: &'a mut Store<StoreData>,
        settings: &'a types::Settings,
    ) -> Option<Call<'a, Result<webhooks::WebhookRegistration, types::ChannelError>>> {
        Some(Box::pin(
            self.switchboard_channel0_2_0_webhooks()
                .call_current_webhook(store, settings),
        ))
    }
}
