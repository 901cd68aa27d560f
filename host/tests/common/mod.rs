//! The fixture of the fast boundary tests (`router.rs`, `use_cases.rs`): a
//! node's [`AppState`] built in-process, as `switchboard serve` builds it but
//! without plugins, on a fresh database: a SQLite file in a temporary folder,
//! or a fresh PostgreSQL database created for the test and dropped after it.
//!
//! PostgreSQL is not optional: when it is unreachable the PostgreSQL half of
//! every test fails (CI and `tests/run` start it). The server it uses is
//! `SWITCHBOARD_TEST_POSTGRES`, by default the e2e harness's
//! `postgres://postgres@127.0.0.1:5432/test`.

#![allow(dead_code)] // Each test target uses a different part.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use switchboard::app::administration::{self, CreatedUser, NewUser};
use switchboard::app::{AppState, Member, Pipeline};
use switchboard::live::LiveEvents;
use switchboard::plugin_host::PluginHost;
use switchboard::runtime::{Runtime, RuntimeConfig};
use switchboard::secrets::SecretBox;
use switchboard::store::{InboxRow, NewContact, Store};

/// Declares each listed `async fn NAME(backend: Backend) -> anyhow::Result<()>`
/// as two tests, `sqlite::NAME` and `postgres::NAME`.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name($crate::common::Backend::Sqlite).await.unwrap()
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name($crate::common::Backend::Postgres).await.unwrap()
            })*
        }
    };
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A fresh database on the local PostgreSQL server.
    Postgres,
}

/// The PostgreSQL server the tests create their databases on.
fn postgres_admin_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A throwaway secrets key (32 bytes, base64), as the e2e suites use.
const TEST_SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// One WebAssembly runtime for every test of the binary: building an engine
/// is the slowest part of a node's start, and no test loads a plugin.
fn runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| Runtime::new(RuntimeConfig::default()).expect("starting the WebAssembly runtime"))
        .clone()
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A node's state on a fresh database.
/// What [`Fixture::acme`] made.
pub struct Acme {
    pub account: i64,
    pub admin: CreatedUser,
    pub agent: CreatedUser,
    pub inbox: i64,
    pub contact: i64,
}

pub struct Fixture {
    /// The database kind.
    pub backend: Backend,
    /// What every use case and handler gets.
    pub state: AppState,
    // Dropped after `state` (fields drop in order): removes the database.
    _database: Database,
    // The blob store's folder.
    _blobs: tempfile::TempDir,
}

/// A test's database: the SQLite file's folder, or the PostgreSQL database
/// to drop.
struct Database {
    url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl Database {
    async fn create(backend: Backend) -> anyhow::Result<Self> {
        Ok(match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("switchboard.db").display()
                );
                Self {
                    url,
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let name = format!(
                    "sb_fast_{}_{}_{:08x}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::SeqCst),
                    rand::random::<u32>()
                );
                let admin = postgres_admin_url();
                let url = switchboard::store::scratch::create_postgres_database(&admin, &name)
                    .await
                    .with_context(|| {
                        format!("creating database {name} at {admin} (is PostgreSQL running?)")
                    })?;
                Self {
                    url: with_tls_off(url),
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        let admin = postgres_admin_url();
        // In a fresh thread with its own runtime: Drop runs inside the test's
        // runtime, which cannot be blocked on.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(switchboard::store::scratch::drop_postgres_database(&admin, &name))
                .map_err(anyhow::Error::from)
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("cannot drop the test database: {e:#}");
        }
    }
}

impl Fixture {
    /// A migrated, empty database and a node's state on it (no plugins).
    pub async fn new(backend: Backend) -> anyhow::Result<Self> {
        let database = Database::create(backend).await?;
        let store = Store::open(&database.url)
            .await
            .with_context(|| format!("opening {}", database.url))?;
        let secrets = SecretBox::with_key(TEST_SECRET_KEY)?;
        let plugins = PluginHost::new(runtime(), store.clone(), Default::default(), Arc::new(secrets));
        let blobs_dir = tempfile::tempdir()?;
        let state = AppState {
            live: LiveEvents::new(store.clone()),
            store,
            plugins,
            pipeline: Pipeline::new(Default::default()),
            blobs: switchboard::blobs::Blobs::folder(blobs_dir.path())?,
        };
        Ok(Self {
            backend,
            state,
            _database: database,
            _blobs: blobs_dir,
        })
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// The database's URL (for a test that checks the store with its own
    /// queries).
    pub fn database_url(&self) -> &str {
        &self._database.url
    }

    /// The whole HTTP application on this state, as `serve` runs it.
    pub fn router(&self) -> axum::Router {
        switchboard::api::router(self.state.clone())
    }

    /// The account most tests start from: "Acme" with an administrator and
    /// an agent, an inbox "Support" the agent belongs to, and a contact "Ann".
    pub async fn acme(&self) -> anyhow::Result<Acme> {
        let account = self.account("Acme").await?;
        let admin = self.user(account, "admin@acme.example", "administrator").await?;
        let agent = self.user(account, "agent@acme.example", "agent").await?;
        let inbox = self.inbox(account, "Support", &[agent.id]).await?.id;
        let contact = self.contact(account, "Ann").await?;
        Ok(Acme {
            account,
            admin,
            agent,
            inbox,
            contact,
        })
    }

    /// Creates an account; answers its id.
    pub async fn account(&self, name: &str) -> anyhow::Result<i64> {
        Ok(administration::create_account(self.store(), name, None).await?.id)
    }

    /// Creates a user in an account with a role (`agent` or
    /// `administrator`); answers them with their token.
    pub async fn user(&self, account_id: i64, email: &str, role: &str) -> anyhow::Result<CreatedUser> {
        Ok(administration::create_user(
            self.store(),
            NewUser {
                email: email.into(),
                name: None,
                super_admin: false,
                account_id: Some(account_id),
                role: Some(role.into()),
            },
        )
        .await?)
    }

    /// The user acting in the account, as the API's extractor resolves them.
    pub async fn member(&self, account_id: i64, user: &CreatedUser) -> anyhow::Result<Member> {
        let owner = self
            .store()
            .token_owner(&switchboard::accounts::token_digest(&user.access_token))
            .await?
            .context("the user's token has no owner")?;
        let role = self
            .store()
            .membership(account_id, user.id)
            .await?
            .context("the user is not a member of the account")?;
        Ok(Member {
            user: owner,
            account_id,
            role,
        })
    }

    /// Creates an inbox on a channel no plugin serves (enough for anything
    /// but sending), with these users as its members.
    pub async fn inbox(&self, account_id: i64, name: &str, members: &[i64]) -> anyhow::Result<InboxRow> {
        let inbox = self.store().insert_inbox(account_id, name, "api", None).await?;
        if !members.is_empty() {
            self.store()
                .set_inbox_members(account_id, inbox.id, members, false)
                .await?;
        }
        Ok(inbox)
    }

    /// Creates a contact; answers its id.
    pub async fn contact(&self, account_id: i64, name: &str) -> anyhow::Result<i64> {
        let contact = NewContact {
            name: name.into(),
            additional_attributes: "{}".into(),
            custom_attributes: "{}".into(),
            ..Default::default()
        };
        Ok(self.store().insert_contact(account_id, &contact, None).await?.id)
    }
}

/// `url` with TLS off (a local server), unless it says otherwise.
fn with_tls_off(mut url: String) -> String {
    if !url.contains("sslmode") {
        url.push_str(if url.contains('?') {
            "&sslmode=disable"
        } else {
            "?sslmode=disable"
        });
    }
    url
}
