//! The contract versions the host binds, newest first, and the one list of
//! them.
//!
//! Every released folder `wit/since_vX.Y.Z` has a file here,
//! `since_vX_Y_Z.rs`, listed in [`contracts!`] below:
//! - the first (newest) is [`latest`]: its bindings are generated from its
//!   folder as it is, and the rest of the runtime (host imports in
//!   `host_imports.rs`, conversions in `convert.rs`, calls in `call.rs`) is
//!   written against latest's generated types only;
//! - every other one is an adapter onto latest: its bindings map each
//!   interface it shares with latest onto latest's generated module (bindgen
//!   `with:`), it adapts whatever differs, and it offers the same [`Plugin`]
//!   surface.
//!
//! What derives from the list: the supported versions ([`supports_contract`],
//! [`SUPPORTED_CONTRACTS`]), linking the imports of every version, and picking
//! the version a component implements (the newest whose [`Contract::marker_export`]
//! it exports). Nothing outside this folder names a contract version.
//!
//! Adding contract 0.3.0 (folder `wit/since_v0.3.0`):
//! 1. write `since_v0_3_0.rs` (bindgen on its folder, one
//!    [`contract_entry!`] line naming its version, marker export and refusal
//!    message, its [`Plugin`] impl, and the interface aliases latest offers:
//!    `types`, `http_client`, `log`, `clock`, `channel`, `webhooks`, …);
//! 2. put it first in the list in [`contracts!`];
//! 3. in the file of the version that was newest until then, map its
//!    interfaces onto `super::latest` with `with:` (as `since_v0_1_0.rs`
//!    does) and drop its interface aliases: it becomes an adapter;
//! 4. add the folder's hashes to `wit/FROZEN.sha256`.
//!
//! A verb that only the new version has is one more [`Plugin`] method with a
//! default body answering `None` (older versions lack it), and one more
//! `PluginInstance` method in `call.rs`.

use std::fmt;

use futures::future::BoxFuture;
use wasmtime::Store;
use wasmtime::component::{InstancePre, Linker};

use self::latest::{types, webhooks};
use super::PluginError;
use super::call::StoreData;

/// Declares the version modules, the `latest` alias and [`CONTRACTS`] from
/// one list of module names, newest first.
macro_rules! contracts {
    [$latest:ident $(, $older:ident)* $(,)?] => {
        pub(super) mod $latest;
        $(pub(super) mod $older;)*

        /// The newest contract version: the generated types the rest of the
        /// runtime is written against.
        pub(super) use $latest as latest;

        /// Every contract version the host binds, newest first.
        static CONTRACTS: &[&Contract] = &[&$latest::CONTRACT $(, &$older::CONTRACT)*];
    };
}

// One line per released contract version, newest first.
contracts![
    since_v0_2_0, // latest
    since_v0_1_0,
];

/// What one version's file declares about itself.
pub(super) struct Contract {
    /// The version as released (`X.Y.0`, the name of its `wit/since_vX.Y.Z`
    /// folder). It serves plugins built for the same major.minor.
    pub version: semver::Version,
    /// The prefix of an export that tells this version apart from every
    /// older one (the interface it introduced, e.g.
    /// `switchboard:channel/webhooks@0.2.`). A component gets the newest
    /// version whose marker it exports; one exporting none gets the oldest,
    /// whose bindings then say what it lacks.
    pub marker_export: &'static str,
    /// Links this version's imports (the ones it shares with latest resolve
    /// to the same host code, so linking them again changes nothing).
    pub add_to_linker: fn(&mut Linker<StoreData>) -> wasmtime::Result<()>,
    /// Prepares instances of a component with this version's bindings; the
    /// error says what the component lacks for this version.
    pub prepare: fn(InstancePre<StoreData>) -> Result<Prepared, PluginError>,
}

/// A component prepared with one version's bindings.
pub(super) type Prepared = Box<dyn Pre>;

/// One version's bindings of one compiled component.
pub(super) trait Pre: Send + Sync {
    /// Instantiates the component in a (fresh) store.
    fn instantiate<'a>(
        &'a self,
        store: &'a mut Store<StoreData>,
    ) -> BoxFuture<'a, wasmtime::Result<Box<dyn Plugin>>>;
}

/// A call into a guest export: the outer `wasmtime::Result` is a trap.
pub(super) type Call<'a, R> = BoxFuture<'a, wasmtime::Result<R>>;

/// One instantiated plugin, whichever version it implements: the contract's
/// verbs in latest's types. A version adapts its own exports onto these.
pub(super) trait Plugin: Send + Sync {
    /// channel.describe
    fn describe<'a>(&'a self, store: &'a mut Store<StoreData>) -> Call<'a, types::Manifest>;

    /// channel.authorization-url
    fn authorization_url<'a>(
        &'a self,
        store: &'a mut Store<StoreData>,
        settings: &'a types::Settings,
        state: &'a str,
        redirect_uri: &'a str,
    ) -> Call<'a, Result<String, types::ChannelError>>;

    /// channel.complete-authorization
    fn complete_authorization<'a>(
        &'a self,
        store: &'a mut Store<StoreData>,
        settings: &'a types::Settings,
        query: &'a [types::KeyValue],
        redirect_uri: &'a str,
    ) -> Call<'a, Result<types::Authorization, types::ChannelError>>;

    /// channel.refresh-credentials
    fn refresh_credentials<'a>(
        &'a self,
        store: &'a mut Store<StoreData>,
        settings: &'a types::Settings,
        current: &'a types::Credentials,
    ) -> Call<'a, Result<types::Credentials, types::ChannelError>>;

    /// channel.verify-webhook
    fn verify_webhook<'a>(
        &'a self,
        store: &'a mut Store<StoreData>,
        settings: &'a types::Settings,
        request: &'a types::IncomingRequest,
    ) -> Call<'a, types::Verification>;

    /// channel.parse-event
    fn parse_event<'a>(
        &'a self,
        store: &'a mut Store<StoreData>,
        settings: &'a types::Settings,
        request: &'a types::IncomingRequest,
    ) -> Call<'a, Result<Vec<types::ChannelEvent>, types::ChannelError>>;

    /// channel.send-message
    fn send_message<'a>(
        &'a self,
        store: &'a mut Store<StoreData>,
        context: &'a types::ChannelContext,
        message: &'a types::OutboundMessage,
    ) -> Call<'a, Result<types::SentMessage, types::ChannelError>>;

    /// channel.fetch-media
    fn fetch_media<'a>(
        &'a self,
        store: &'a mut Store<StoreData>,
        context: &'a types::ChannelContext,
        media_ref: &'a str,
    ) -> Call<'a, Result<types::Media, types::ChannelError>>;

    /// webhooks.register-webhook (0.2 and later); `None` when the plugin's
    /// version lacks it.
    fn register_webhook<'a>(
        &'a self,
        _store: &'a mut Store<StoreData>,
        _settings: &'a types::Settings,
        _callback_url: &'a str,
    ) -> Option<Call<'a, Result<webhooks::WebhookRegistration, types::ChannelError>>> {
        None
    }

    /// webhooks.current-webhook (0.2 and later); `None` when the plugin's
    /// version lacks it.
    fn current_webhook<'a>(
        &'a self,
        _store: &'a mut Store<StoreData>,
        _settings: &'a types::Settings,
    ) -> Option<Call<'a, Result<webhooks::WebhookRegistration, types::ChannelError>>> {
        None
    }
}

/// Implements the `channel` verbs of [`Plugin`] for a version whose
/// `channel` export is latest's (mapped with `with:`, or latest itself), by
/// delegating to the export's accessor that bindgen generated (`$channel`).
macro_rules! channel_verbs_of_latest {
    ($channel:ident) => {
        fn describe<'a>(
            &'a self,
            store: &'a mut ::wasmtime::Store<$crate::runtime::call::StoreData>,
        ) -> $crate::runtime::wit::Call<'a, $crate::runtime::wit::latest::types::Manifest> {
            Box::pin(self.$channel().call_describe(store))
        }

        fn authorization_url<'a>(
            &'a self,
            store: &'a mut ::wasmtime::Store<$crate::runtime::call::StoreData>,
            settings: &'a $crate::runtime::wit::latest::types::Settings,
            state: &'a str,
            redirect_uri: &'a str,
        ) -> $crate::runtime::wit::Call<'a, Result<String, $crate::runtime::wit::latest::types::ChannelError>>
        {
            Box::pin(
                self.$channel()
                    .call_authorization_url(store, settings, state, redirect_uri),
            )
        }

        fn complete_authorization<'a>(
            &'a self,
            store: &'a mut ::wasmtime::Store<$crate::runtime::call::StoreData>,
            settings: &'a $crate::runtime::wit::latest::types::Settings,
            query: &'a [$crate::runtime::wit::latest::types::KeyValue],
            redirect_uri: &'a str,
        ) -> $crate::runtime::wit::Call<
            'a,
            Result<
                $crate::runtime::wit::latest::types::Authorization,
                $crate::runtime::wit::latest::types::ChannelError,
            >,
        > {
            Box::pin(
                self.$channel()
                    .call_complete_authorization(store, settings, query, redirect_uri),
            )
        }

        fn refresh_credentials<'a>(
            &'a self,
            store: &'a mut ::wasmtime::Store<$crate::runtime::call::StoreData>,
            settings: &'a $crate::runtime::wit::latest::types::Settings,
            current: &'a $crate::runtime::wit::latest::types::Credentials,
        ) -> $crate::runtime::wit::Call<
            'a,
            Result<
                $crate::runtime::wit::latest::types::Credentials,
                $crate::runtime::wit::latest::types::ChannelError,
            >,
        > {
            Box::pin(
                self.$channel()
                    .call_refresh_credentials(store, settings, current),
            )
        }

        fn verify_webhook<'a>(
            &'a self,
            store: &'a mut ::wasmtime::Store<$crate::runtime::call::StoreData>,
            settings: &'a $crate::runtime::wit::latest::types::Settings,
            request: &'a $crate::runtime::wit::latest::types::IncomingRequest,
        ) -> $crate::runtime::wit::Call<'a, $crate::runtime::wit::latest::types::Verification> {
            Box::pin(
                self.$channel()
                    .call_verify_webhook(store, settings, request),
            )
        }

        fn parse_event<'a>(
            &'a self,
            store: &'a mut ::wasmtime::Store<$crate::runtime::call::StoreData>,
            settings: &'a $crate::runtime::wit::latest::types::Settings,
            request: &'a $crate::runtime::wit::latest::types::IncomingRequest,
        ) -> $crate::runtime::wit::Call<
            'a,
            Result<
                Vec<$crate::runtime::wit::latest::types::ChannelEvent>,
                $crate::runtime::wit::latest::types::ChannelError,
            >,
        > {
            Box::pin(self.$channel().call_parse_event(store, settings, request))
        }

        fn send_message<'a>(
            &'a self,
            store: &'a mut ::wasmtime::Store<$crate::runtime::call::StoreData>,
            context: &'a $crate::runtime::wit::latest::types::ChannelContext,
            message: &'a $crate::runtime::wit::latest::types::OutboundMessage,
        ) -> $crate::runtime::wit::Call<
            'a,
            Result<
                $crate::runtime::wit::latest::types::SentMessage,
                $crate::runtime::wit::latest::types::ChannelError,
            >,
        > {
            Box::pin(self.$channel().call_send_message(store, context, message))
        }

        fn fetch_media<'a>(
            &'a self,
            store: &'a mut ::wasmtime::Store<$crate::runtime::call::StoreData>,
            context: &'a $crate::runtime::wit::latest::types::ChannelContext,
            media_ref: &'a str,
        ) -> $crate::runtime::wit::Call<
            'a,
            Result<
                $crate::runtime::wit::latest::types::Media,
                $crate::runtime::wit::latest::types::ChannelError,
            >,
        > {
            Box::pin(self.$channel().call_fetch_media(store, context, media_ref))
        }
    };
}
pub(super) use channel_verbs_of_latest;

/// The entry of a version file: its [`Contract`] (version, marker export,
/// linking, preparing) over the `ChannelPlugin`/`ChannelPluginPre` types
/// bindgen generated in that file, and the [`Pre`] that instantiates them.
/// `$refusal` opens the message for a component that lacks the version's
/// exports (it goes on "…@<version>: <why>").
macro_rules! contract_entry {
    (version: ($major:literal, $minor:literal, $patch:literal), marker: $marker:literal, refusal: $refusal:literal) => {
        /// This version's entry in `contracts![…]`.
        pub(super) static CONTRACT: $crate::runtime::wit::Contract = $crate::runtime::wit::Contract {
            version: semver::Version::new($major, $minor, $patch),
            marker_export: $marker,
            add_to_linker,
            prepare,
        };

        fn add_to_linker(
            linker: &mut ::wasmtime::component::Linker<$crate::runtime::call::StoreData>,
        ) -> ::wasmtime::Result<()> {
            ChannelPlugin::add_to_linker::<
                $crate::runtime::call::StoreData,
                ::wasmtime::component::HasSelf<$crate::runtime::call::StoreData>,
            >(linker, |data| data)
        }

        fn prepare(
            pre: ::wasmtime::component::InstancePre<$crate::runtime::call::StoreData>,
        ) -> Result<$crate::runtime::wit::Prepared, $crate::runtime::PluginError> {
            ChannelPluginPre::new(pre)
                .map(|pre| Box::new(pre) as $crate::runtime::wit::Prepared)
                .map_err(|e| {
                    $crate::runtime::PluginError::InvalidComponent(format!(
                        "{}@{}: {e:#}",
                        $refusal, CONTRACT.version
                    ))
                })
        }

        impl $crate::runtime::wit::Pre for ChannelPluginPre<$crate::runtime::call::StoreData> {
            fn instantiate<'a>(
                &'a self,
                store: &'a mut ::wasmtime::Store<$crate::runtime::call::StoreData>,
            ) -> ::futures::future::BoxFuture<'a, ::wasmtime::Result<Box<dyn $crate::runtime::wit::Plugin>>>
            {
                Box::pin(async move {
                    Ok(Box::new(self.instantiate_async(store).await?)
                        as Box<dyn $crate::runtime::wit::Plugin>)
                })
            }
        }
    };
}
pub(super) use contract_entry;

/// The contract versions this host loads, for messages: "0.1.x and 0.2.x",
/// oldest first, derived from the list of versions.
pub const SUPPORTED_CONTRACTS: SupportedContracts = SupportedContracts;

/// Displays the supported contract versions; see [`SUPPORTED_CONTRACTS`].
#[derive(Debug, Clone, Copy)]
pub struct SupportedContracts;

impl fmt::Display for SupportedContracts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = CONTRACTS.len();
        for (i, contract) in CONTRACTS.iter().rev().enumerate() {
            let separator = match i {
                0 => "",
                i if i + 1 == count => " and ",
                _ => ", ",
            };
            write!(
                f,
                "{separator}{}.{}.x",
                contract.version.major, contract.version.minor
            )?;
        }
        Ok(())
    }
}

/// Whether the host loads plugins built for this contract version (one it
/// binds with the same major.minor).
pub fn supports_contract(version: &semver::Version) -> bool {
    CONTRACTS
        .iter()
        .any(|c| (c.version.major, c.version.minor) == (version.major, version.minor))
}

/// Links the imports of every version, oldest first so that latest's
/// definitions are the ones that stay. Versions share interfaces, and an
/// older version's bindings of a shared interface are latest's, so linking
/// it again redefines a name with the same host code: shadowing is allowed
/// for that, and only for that.
pub(super) fn add_to_linker(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let linked = CONTRACTS
        .iter()
        .rev()
        .try_for_each(|contract| (contract.add_to_linker)(linker));
    linker.allow_shadowing(false);
    linked
}

/// The bindings of the contract version a component implements.
pub(super) struct Bindings {
    contract: &'static Contract,
    pre: Prepared,
}

impl Bindings {
    /// Picks the newest version whose marker export the component has
    /// (`exports(prefix)` tells whether it exports a name with that prefix),
    /// else the oldest, and prepares its bindings.
    pub(super) fn new(
        pre: InstancePre<StoreData>,
        exports: impl Fn(&str) -> bool,
    ) -> Result<Self, PluginError> {
        let oldest = CONTRACTS.last().expect("at least one contract version");
        let contract = CONTRACTS
            .iter()
            .find(|c| exports(c.marker_export))
            .unwrap_or(oldest);
        Ok(Self {
            contract,
            pre: (contract.prepare)(pre)?,
        })
    }

    /// The contract version (as released, `X.Y.0`) these bindings implement.
    pub(super) fn contract(&self) -> &'static semver::Version {
        &self.contract.version
    }

    /// Instantiates the component in a (fresh) store.
    pub(super) async fn instantiate(
        &self,
        store: &mut Store<StoreData>,
    ) -> wasmtime::Result<Box<dyn Plugin>> {
        self.pre.instantiate(store).await
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn versions_are_listed_newest_first_and_latest_is_the_first() {
        assert!(
            CONTRACTS.windows(2).all(|w| w[0].version > w[1].version),
            "the list in contracts! must be newest first"
        );
        assert_eq!(CONTRACTS[0].version, latest::CONTRACT.version);
        for contract in CONTRACTS {
            assert_eq!(
                contract.version.patch, 0,
                "a contract version is released as X.Y.0"
            );
            assert!(contract.version.pre.is_empty() && contract.version.build.is_empty());
        }
    }

    #[test]
    fn every_released_folder_is_bound_and_every_bound_version_is_released() {
        let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        let mut released: Vec<String> = std::fs::read_dir(&wit)
            .expect("wit/ exists")
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str()?.strip_prefix("since_v").map(str::to_owned))
            .collect();
        released.sort();
        let mut bound: Vec<String> = CONTRACTS.iter().map(|c| c.version.to_string()).collect();
        bound.sort();
        assert_eq!(
            released, bound,
            "each wit/since_vX.Y.Z folder needs a since_vX_Y_Z.rs listed in contracts! (host/src/runtime/wit/mod.rs)"
        );
    }

    #[test]
    fn supported_versions_derive_from_the_list() {
        assert_eq!(SUPPORTED_CONTRACTS.to_string(), "0.1.x and 0.2.x");
        for yes in ["0.1.0", "0.1.7", "0.2.0", "0.2.3"] {
            assert!(supports_contract(&semver::Version::parse(yes).unwrap()), "{yes}");
        }
        for no in ["0.0.1", "0.3.0", "0.9.0", "1.1.0", "1.2.0"] {
            assert!(!supports_contract(&semver::Version::parse(no).unwrap()), "{no}");
        }
    }

    /// Every version links side by side, and a real plugin gets the version
    /// its manifest names and answers through the version-agnostic surface.
    #[tokio::test]
    async fn bundled_plugins_load_through_the_contract_they_implement() {
        use std::sync::Arc;

        use crate::caps::egress::{EgressLimits, EgressPolicy};
        use crate::runtime::{Runtime, RuntimeConfig};

        let runtime = Runtime::new(RuntimeConfig::default()).expect("every version links");
        // The plugins the binary bundles (built by build.rs), included here
        // directly: `plugin_host` is a layer above.
        let bundled: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
        assert!(!bundled.is_empty());
        for (name, bytes) in bundled {
            let compiled = runtime.compile(Arc::new(bytes.to_vec())).await.expect(name);
            let contract = compiled.contract().clone();
            assert!(supports_contract(&contract), "{name}: {contract}");
            let egress = Arc::new(EgressPolicy::new("test", vec![], &[], EgressLimits::default()));
            let instance = runtime.instance(name, compiled, runtime.config().default_limits, egress);
            let manifest = instance.describe().await.expect(name);
            let declared = semver::Version::parse(&manifest.contract_version).expect(name);
            assert_eq!(
                (declared.major, declared.minor),
                (contract.major, contract.minor),
                "{name}: the component implements {contract}, its manifest says {declared}"
            );
        }
    }

    #[test]
    fn markers_name_their_own_version() {
        for contract in CONTRACTS {
            let suffix = format!("@{}.{}.", contract.version.major, contract.version.minor);
            assert!(
                contract.marker_export.starts_with("switchboard:channel/")
                    && contract.marker_export.ends_with(&suffix),
                "{}: marker {:?}",
                contract.version,
                contract.marker_export
            );
        }
    }
}
