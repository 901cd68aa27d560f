//! An environment with the bundled TikTok plugin pointed at a [`MockTikTok`]
//! and an account ready to connect a TikTok business, for suites that need a
//! real channel end to end (the TikTok suite, the durability suite).

use serde_json::{Value, json};

use crate::tiktok::{AuthGrant, MockTikTok, Profile};
use crate::{Backend, Env, Server};

/// The server's public base URL in these suites (redirects and webhook
/// registrations name it; nothing connects to it).
pub const PUBLIC_URL: &str = "https://sb.example";
/// The TikTok business the suites connect.
pub const BUSINESS: &str = "biz-1";

/// A data folder and database with TikTok configured, an account with an
/// administrator and an agent, and a super admin.
pub struct Connected {
    /// The environment every process of the test shares.
    pub env: Env,
    /// The provider.
    pub mock: MockTikTok,
    /// Account id.
    pub account: i64,
    /// The account administrator's token.
    pub admin: String,
    /// An agent's token (not a member of any inbox).
    pub agent: String,
    /// A super admin's token.
    pub super_admin: String,
}

impl Connected {
    /// Prepares everything but a running server. The app id, base URLs and
    /// public URL come from the environment (as in Chatwoot); the secret from
    /// the installation config, stored sealed; the mock's origin is granted.
    pub async fn prepare(backend: Backend, extra_env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut env = Env::new(backend).await?;
        let mock = MockTikTok::start().await?;
        for (key, value) in [
            ("TIKTOK_APP_ID", mock.app_id()),
            ("TIKTOK_API_BASE_URL", mock.api_base_url()),
            ("TIKTOK_AUTH_BASE_URL", mock.auth_base_url().to_owned()),
            ("FRONTEND_URL", PUBLIC_URL.to_owned()),
            ("SWITCHBOARD_DELIVERY_BACKOFF_MS", "50".to_owned()),
        ] {
            env.vars.push((key.to_owned(), value));
        }
        for (key, value) in extra_env {
            env.vars.push(((*key).to_owned(), (*value).to_owned()));
        }
        // The first start installs the bundled plugin.
        drop(env.serve().await?);
        let secret = env.cli(&["config", "set", "TIKTOK_APP_SECRET", &mock.app_secret()]);
        anyhow::ensure!(secret.code == 0, "config set: {}", secret.stderr);
        let grant = env.cli(&["plugin", "grant-host", "tiktok", mock.url()]);
        anyhow::ensure!(grant.code == 0, "grant-host: {}", grant.stderr);
        let account = env.cli_json(&["account", "create", "Acme", "--json"])["id"]
            .as_i64()
            .expect("account id");
        let id = account.to_string();
        let admin = env.cli_json(&[
            "user",
            "create",
            "--email",
            "admin@acme.example",
            "--account",
            &id,
            "--role",
            "administrator",
            "--json",
        ]);
        let agent = env.cli_json(&[
            "user",
            "create",
            "--email",
            "agent@acme.example",
            "--account",
            &id,
            "--json",
        ]);
        let super_admin = env.super_admin_token();
        let token = |u: &Value| u["access_token"].as_str().expect("token").to_owned();
        Ok(Self {
            admin: token(&admin),
            agent: token(&agent),
            env,
            mock,
            account,
            super_admin,
        })
    }

    /// `/api/v1/accounts/{account}{rest}`.
    pub fn path(&self, rest: &str) -> String {
        format!("/api/v1/accounts/{}{rest}", self.account)
    }

    /// Turns the account's `channel_tiktok` feature on.
    pub fn enable_feature(&self) {
        let out = self.env.cli(&[
            "feature",
            "enable",
            "channel_tiktok",
            "--account",
            &self.account.to_string(),
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }

    /// Starts an authorization and answers the state the host issued.
    pub async fn authorization_state(&self, server: &Server) -> anyhow::Result<String> {
        let answer = server
            .post_json(&self.path("/tiktok/authorization"), Some(&self.admin), &json!({}))
            .await?;
        anyhow::ensure!(answer.status == 200, "authorization: {:?}", answer.json);
        let url = reqwest::Url::parse(answer.json["url"].as_str().unwrap_or_default())?;
        url.query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| anyhow::anyhow!("no state in {url}"))
    }

    /// Runs a whole authorization with a fresh code; answers the callback's
    /// status and where it redirects (or its body, when it does not).
    pub async fn connect(&self, server: &Server, grant: AuthGrant) -> anyhow::Result<(u16, String)> {
        let state = self.authorization_state(server).await?;
        let code = format!(
            "code-{}",
            crate::NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        self.mock.add_auth_code(&code, grant);
        let (status, location, body) = server
            .get_redirect(&format!("/tiktok/callback?code={code}&state={state}"))
            .await?;
        Ok((status, location.unwrap_or(body)))
    }

    /// Connects [`BUSINESS`] (feature on, profile registered) and answers its inbox id.
    pub async fn connected_inbox(&self, server: &Server) -> anyhow::Result<i64> {
        self.enable_feature();
        self.mock.add_business(
            BUSINESS,
            Profile::new("acme_shop", "Acme Shop").with_image("https://cdn.example/acme.png"),
        );
        let (status, location) = self.connect(server, AuthGrant::new(BUSINESS)).await?;
        anyhow::ensure!(
            status == 302 && location.contains("/agents"),
            "connect: {status} {location}"
        );
        let inboxes = server.get(&self.path("/inboxes"), Some(&self.admin)).await?;
        inboxes.json["payload"][0]["id"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("no inbox: {:?}", inboxes.json))
    }
}
