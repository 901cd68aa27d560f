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

use futures::future::BoxFuture;
use wasmtime::Store;
use wasmtime::component::{HasSelf, InstancePre, Linker};

use super::{Call, Contract, Plugin, Pre, Prepared};
use crate::runtime::PluginError;
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

/// Contract 0.2.0: serves plugins built for 0.2.x.
pub(super) static CONTRACT: Contract = Contract {
    version: semver::Version::new(0, 2, 0),
    marker_export: "switchboard:channel/webhooks@0.2.",
    add_to_linker,
    prepare,
};

fn add_to_linker(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    ChannelPlugin::add_to_linker::<StoreData, HasSelf<StoreData>>(linker, |data| data)
}

fn prepare(pre: InstancePre<StoreData>) -> Result<Prepared, PluginError> {
    match ChannelPluginPre::new(pre) {
        Ok(pre) => Ok(Box::new(pre)),
        Err(e) => Err(PluginError::InvalidComponent(format!(
            "it does not implement contract switchboard:channel@{}: {e:#}",
            CONTRACT.version
        ))),
    }
}

impl Pre for ChannelPluginPre<StoreData> {
    fn instantiate<'a>(
        &'a self,
        store: &'a mut Store<StoreData>,
    ) -> BoxFuture<'a, wasmtime::Result<Box<dyn Plugin>>> {
        Box::pin(async move { Ok(Box::new(self.instantiate_async(store).await?) as Box<dyn Plugin>) })
    }
}

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
