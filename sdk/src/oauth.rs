//! OAuth 2 authorization-code flows (RFC 6749) against standard endpoints.
//!
//! The host runs the flow (it issues and checks `state`, keeps the
//! credentials sealed, decides when to refresh); a plugin only speaks to the
//! provider. For a provider that follows the RFC this module is the whole
//! conversation:
//!
//! - [`OAuthClient::authorization_url`] for `authorization-url`;
//! - [`callback_code`] reads the callback's query (a refusal becomes
//!   `access-denied`), then [`OAuthClient::exchange_code`] posts the code to
//!   the token endpoint (form-encoded) and answers a [`TokenResponse`], which
//!   becomes [`Credentials`] with [`TokenResponse::into_credentials`];
//! - [`OAuthClient::refresh`] for `refresh-credentials`, answering
//!   `reauthorization-required` when the refresh token is gone, expired or
//!   refused (`invalid_grant`).
//!
//! Providers whose token endpoint is not standard (a JSON body, other field
//! names, an envelope) keep their own exchange, and can still use
//! [`callback_code`], [`TokenResponse`] and the URL helpers of [`crate::http`].
//!
//! ```no_run
//! use switchboard_sdk::http::HostTransport;
//! use switchboard_sdk::oauth::{OAuthClient, callback_code};
//! use switchboard_sdk::types::{Authorization, ChannelError, ChannelIdentity, KeyValue, Settings};
//!
//! const AUTHORIZE: &str = "https://example.com/oauth/authorize";
//! const TOKEN: &str = "https://api.example.com/oauth/token";
//!
//! fn client(settings: &Settings) -> Result<OAuthClient<'_>, ChannelError> {
//!     let id = settings.required_config("client_id")?;
//!     let secret = settings.required_secret("client_secret")?;
//!     Ok(OAuthClient::new(id, secret, AUTHORIZE, TOKEN).named("acme-chat", "Acme"))
//! }
//!
//! // `authorization-url`
//! fn authorization_url(settings: Settings, redirect_uri: String, state: String) -> Result<String, ChannelError> {
//!     Ok(client(&settings)?.authorization_url(&redirect_uri, &state, &["messages"], &[]))
//! }
//!
//! // `complete-authorization`
//! fn complete_authorization(
//!     settings: Settings,
//!     query: Vec<KeyValue>,
//!     redirect_uri: String,
//! ) -> Result<Authorization, ChannelError> {
//!     let code = callback_code(&query)?;
//!     let token = client(&settings)?.exchange_code(&HostTransport, code, &redirect_uri)?;
//!     let account = token.extra_str("account_id").unwrap_or_default().to_owned();
//!     Ok(Authorization {
//!         identity: ChannelIdentity { display_name: account.clone(), external_id: account, username: None, avatar_url: None },
//!         credentials: token.into_credentials(switchboard_sdk::now_ms(), vec![]),
//!     })
//! }
//! ```

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::http::{Request, RequestError, Transport, status_error, with_query};
use crate::types::{ChannelError, Credentials, ErrorCode, HttpResponse, KeyValue};

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
/// ```
/// use switchboard_sdk::oauth::{ClientAuth, OAuthClient};
///
/// let client = OAuthClient::new("app-1", "secret", "https://example.com/auth", "https://api.example.com/token");
/// assert_eq!(client.client_auth, ClientAuth::RequestBody);
/// assert_eq!(client.with_basic_auth().client_auth, ClientAuth::Basic);
/// ```
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    #[default]
    RequestBody,
    /// HTTP Basic with the client id and secret (`client_secret_basic`).
    Basic,
}

/// An OAuth 2 client of one provider.
#[derive(Debug, Clone, Copy)]
/// ```
/// use switchboard_sdk::oauth::OAuthClient;
/// use switchboard_sdk::types::{ChannelError, Settings};
///
/// // Built per call from the plugin's settings.
/// fn client(settings: &Settings) -> Result<OAuthClient<'_>, ChannelError> {
///     Ok(OAuthClient::new(
///         settings.required_config("client_id")?,
///         settings.required_secret("client_secret")?,
///         "https://example.com/oauth/authorize",
///         "https://api.example.com/oauth/token",
///     )
///     .named("acme-chat", "Acme"))
/// }
/// # let settings = Settings {
/// #     config: vec![switchboard_sdk::types::KeyValue::new("client_id", "app-1")],
/// #     secrets: vec![switchboard_sdk::types::KeyValue::new("client_secret", "s")],
/// # };
/// # assert_eq!(client(&settings)?.provider, "Acme");
/// # Ok::<(), ChannelError>(())
/// ```
pub struct OAuthClient<'a> {
    /// The client id (a.k.a. app id, client key).
    pub client_id: &'a str,
    /// The client secret.
    pub client_secret: &'a str,
    /// The provider's authorization page.
    pub authorize_url: &'a str,
    /// The provider's token endpoint.
    pub token_url: &'a str,
    /// How the client authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// What joins scopes in the authorization URL (RFC 6749: a space).
    pub scope_separator: &'a str,
    /// The plugin's id, named in error messages (`grant-host` hints).
    pub plugin_id: &'a str,
    /// The provider's name, for error messages.
    pub provider: &'a str,
}

impl<'a> OAuthClient<'a> {
    /// A client authenticating in the request body, with space-separated scopes.
    /// ```
    /// use switchboard_sdk::oauth::OAuthClient;
    ///
    /// let client = OAuthClient::new("app-1", "app-secret", "https://example.com/oauth/authorize", "https://api.example.com/oauth/token");
    /// assert_eq!((client.scope_separator, client.provider), (" ", "the provider"));
    /// ```
    pub fn new(
        client_id: &'a str,
        client_secret: &'a str,
        authorize_url: &'a str,
        token_url: &'a str,
    ) -> Self {
        Self {
            client_id,
            client_secret,
            authorize_url,
            token_url,
            client_auth: ClientAuth::RequestBody,
            scope_separator: " ",
            plugin_id: "<plugin-id>",
            provider: "the provider",
        }
    }

    /// Authenticates with HTTP Basic instead of the request body.
    /// ```
    /// use switchboard_sdk::oauth::OAuthClient;
    ///
    /// let client = OAuthClient::new("app-1", "app-secret", "https://example.com/oauth/authorize", "https://api.example.com/oauth/token");
    /// let request = client.with_basic_auth().code_exchange_request("code-1", "https://chat.example.com/callback");
    /// assert!(request.header_value("authorization").unwrap().starts_with("Basic "));
    /// ```
    pub fn with_basic_auth(self) -> Self {
        Self {
            client_auth: ClientAuth::Basic,
            ..self
        }
    }

    /// Joins scopes with `separator` (some providers use `,`).
    /// ```
    /// use switchboard_sdk::oauth::OAuthClient;
    ///
    /// let client = OAuthClient::new("app-1", "app-secret", "https://example.com/oauth/authorize", "https://api.example.com/oauth/token");
    /// let url = client.with_scope_separator(",").authorization_url("https://chat.example.com/cb", "st", &["a", "b"], &[]);
    /// assert!(url.contains("scope=a%2Cb"));
    /// ```
    pub fn with_scope_separator(self, separator: &'a str) -> Self {
        Self {
            scope_separator: separator,
            ..self
        }
    }

    /// Names the plugin and the provider in error messages.
    /// ```
    /// use switchboard_sdk::oauth::OAuthClient;
    ///
    /// let client = OAuthClient::new("app-1", "app-secret", "https://example.com/oauth/authorize", "https://api.example.com/oauth/token");
    /// let client = client.named("acme-chat", "Acme");
    /// assert_eq!((client.plugin_id, client.provider), ("acme-chat", "Acme"));
    /// ```
    pub fn named(self, plugin_id: &'a str, provider: &'a str) -> Self {
        Self {
            plugin_id,
            provider,
            ..self
        }
    }

    /// The page to send the user to: `response_type=code`, `client_id`,
    /// `redirect_uri`, `scope` (when there are scopes), `state`, then `extra`
    /// (e.g. `access_type=offline`), all percent-encoded.
    /// ```
    /// use switchboard_sdk::oauth::OAuthClient;
    ///
    /// let client = OAuthClient::new("app-1", "app-secret", "https://example.com/oauth/authorize", "https://api.example.com/oauth/token");
    /// let url = client.authorization_url("https://chat.example.com/callback", "state-1", &["messages", "profile"], &[("prompt", "consent")]);
    /// assert_eq!(
    ///     url,
    ///     "https://example.com/oauth/authorize?response_type=code&client_id=app-1\
    ///      &redirect_uri=https%3A%2F%2Fchat.example.com%2Fcallback&scope=messages%20profile&state=state-1&prompt=consent"
    /// );
    /// ```
    pub fn authorization_url(
        &self,
        redirect_uri: &str,
        state: &str,
        scopes: &[&str],
        extra: &[(&str, &str)],
    ) -> String {
        let scope = scopes.join(self.scope_separator);
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.client_id),
            ("redirect_uri", redirect_uri),
        ];
        if !scopes.is_empty() {
            params.push(("scope", &scope));
        }
        params.push(("state", state));
        params.extend_from_slice(extra);
        with_query(self.authorize_url, &params)
    }

    fn token_request(&self, params: &[(&str, &str)]) -> Request {
        let mut form = params.to_vec();
        let request = Request::post(self.token_url).header("Accept", "application/json");
        let request = match self.client_auth {
            ClientAuth::RequestBody => {
                form.push(("client_id", self.client_id));
                form.push(("client_secret", self.client_secret));
                request
            }
            ClientAuth::Basic => request.basic_auth(self.client_id, self.client_secret),
        };
        request.form(&form)
    }

    /// The token request exchanging `code` (`grant_type=authorization_code`).
    /// ```
    /// use switchboard_sdk::oauth::OAuthClient;
    ///
    /// let client = OAuthClient::new("app-1", "app-secret", "https://example.com/oauth/authorize", "https://api.example.com/oauth/token");
    /// let request = client.code_exchange_request("code-1", "https://chat.example.com/callback").build();
    /// assert_eq!(
    ///     String::from_utf8(request.body).unwrap(),
    ///     "grant_type=authorization_code&code=code-1&redirect_uri=https%3A%2F%2Fchat.example.com%2Fcallback\
    ///      &client_id=app-1&client_secret=app-secret"
    /// );
    /// ```
    pub fn code_exchange_request(&self, code: &str, redirect_uri: &str) -> Request {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ])
    }

    /// The token request refreshing with `refresh_token` (`grant_type=refresh_token`).
    /// ```
    /// use switchboard_sdk::oauth::OAuthClient;
    ///
    /// let client = OAuthClient::new("app-1", "app-secret", "https://example.com/oauth/authorize", "https://api.example.com/oauth/token");
    /// let request = client.refresh_request("r-1").build();
    /// assert!(request.body.starts_with(b"grant_type=refresh_token&refresh_token=r-1&"));
    /// ```
    pub fn refresh_request(&self, refresh_token: &str) -> Request {
        self.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
    }

    /// Exchanges an authorization code for tokens. A refused code is
    /// `provider-rejected`; a refused client (`invalid_client`) too, with
    /// the provider's words; 429 and 5xx are retryable.
    /// ```
    /// # use switchboard_sdk::http::Transport;
    /// # use switchboard_sdk::types::{HttpError, HttpRequest, HttpResponse};
    /// # /// The provider's token endpoint, answering `status` and `body` (unit
    /// # /// tests use `testing::FakeTransport`, which also records the request).
    /// # struct TokenEndpoint(u16, &'static str);
    /// # impl Transport for TokenEndpoint {
    /// #     fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
    /// #         assert_eq!(request.url, "https://api.example.com/oauth/token");
    /// #         Ok(HttpResponse { status: self.0, headers: vec![], body: self.1.as_bytes().to_vec() })
    /// #     }
    /// # }
    /// use switchboard_sdk::oauth::OAuthClient;
    /// use switchboard_sdk::types::ErrorCode;
    ///
    /// let client = OAuthClient::new("app-1", "s", "https://example.com/auth", "https://api.example.com/oauth/token");
    /// let endpoint = TokenEndpoint(200, r#"{"access_token":"a-1","refresh_token":"r-1","expires_in":3600,"open_id":"u-9"}"#);
    /// let token = client.exchange_code(&endpoint, "code-1", "https://chat.example.com/callback")?;
    /// assert_eq!((token.access_token.as_str(), token.extra_str("open_id")), ("a-1", Some("u-9")));
    ///
    /// let refused = TokenEndpoint(400, r#"{"error":"invalid_grant","error_description":"code expired"}"#);
    /// let error = client.exchange_code(&refused, "old", "https://chat.example.com/callback").unwrap_err();
    /// assert_eq!(error.code, ErrorCode::ProviderRejected);
    /// assert!(error.message.ends_with("invalid_grant: code expired"));
    /// # Ok::<(), switchboard_sdk::types::ChannelError>(())
    /// ```
    pub fn exchange_code(
        &self,
        transport: &impl Transport,
        code: &str,
        redirect_uri: &str,
    ) -> Result<TokenResponse, ChannelError> {
        let response = self
            .code_exchange_request(code, redirect_uri)
            .send_with(transport)
            .map_err(|e| self.channel_error(e))?;
        self.read_token(&response, false)
    }

    /// Obtains fresh credentials with `current`'s refresh token; keeps the
    /// refresh token (and its expiry) when the provider answers none, and
    /// `current`'s extras. `reauthorization-required` when there is no
    /// refresh token, it has expired, or the provider refuses it
    /// (`invalid_grant`).
    /// ```
    /// # use switchboard_sdk::http::Transport;
    /// # use switchboard_sdk::types::{HttpError, HttpRequest, HttpResponse};
    /// # /// The provider's token endpoint, answering `status` and `body` (unit
    /// # /// tests use `testing::FakeTransport`, which also records the request).
    /// # struct TokenEndpoint(u16, &'static str);
    /// # impl Transport for TokenEndpoint {
    /// #     fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
    /// #         assert_eq!(request.url, "https://api.example.com/oauth/token");
    /// #         Ok(HttpResponse { status: self.0, headers: vec![], body: self.1.as_bytes().to_vec() })
    /// #     }
    /// # }
    /// use switchboard_sdk::oauth::OAuthClient;
    /// use switchboard_sdk::types::{Credentials, ErrorCode};
    ///
    /// let client = OAuthClient::new("app-1", "s", "https://example.com/auth", "https://api.example.com/oauth/token");
    /// let now_ms = 1_700_000_000_000;
    /// let current = Credentials {
    ///     access_token: "a-1".into(),
    ///     refresh_token: Some("r-1".into()),
    ///     expires_at_ms: Some(now_ms),
    ///     refresh_expires_at_ms: None,
    ///     extra: vec![],
    /// };
    /// // No refresh token in the answer: the current one is kept.
    /// let fresh = client.refresh(&TokenEndpoint(200, r#"{"access_token":"a-2","expires_in":60}"#), current.clone(), now_ms)?;
    /// assert_eq!((fresh.access_token.as_str(), fresh.refresh_token.as_deref()), ("a-2", Some("r-1")));
    /// assert_eq!(fresh.expires_at_ms, Some(now_ms + 60_000));
    ///
    /// let revoked = TokenEndpoint(400, r#"{"error":"invalid_grant"}"#);
    /// let error = client.refresh(&revoked, current, now_ms).unwrap_err();
    /// assert_eq!(error.code, ErrorCode::ReauthorizationRequired);
    /// # Ok::<(), switchboard_sdk::types::ChannelError>(())
    /// ```
    pub fn refresh(
        &self,
        transport: &impl Transport,
        current: Credentials,
        now_ms: u64,
    ) -> Result<Credentials, ChannelError> {
        let reauthorize = |why: String| {
            ChannelError::permanent(
                ErrorCode::ReauthorizationRequired,
                format!("{why}; reconnect the account"),
            )
        };
        let Some(refresh_token) = current.refresh_token.as_deref().filter(|t| !t.is_empty()) else {
            return Err(reauthorize(format!(
                "there is no refresh token from {}",
                self.provider
            )));
        };
        if current.refresh_expires_at_ms.is_some_and(|at| at <= now_ms) {
            return Err(reauthorize(format!(
                "the refresh token from {} has expired",
                self.provider
            )));
        }
        let response = self
            .refresh_request(refresh_token)
            .send_with(transport)
            .map_err(|e| self.channel_error(e))?;
        let token = self.read_token(&response, true)?;
        Ok(token.into_refreshed(current, now_ms))
    }

    fn channel_error(&self, error: RequestError) -> ChannelError {
        error.into_channel_error(self.plugin_id, self.provider)
    }

    fn read_token(&self, response: &HttpResponse, refreshing: bool) -> Result<TokenResponse, ChannelError> {
        if !response.is_success() {
            return Err(self.token_error(response, refreshing));
        }
        let token: TokenResponse = response.json().map_err(|e| self.channel_error(e))?;
        if token.access_token.trim().is_empty() {
            return Err(self.channel_error(RequestError::Malformed(
                "the token answer has an empty `access_token`".into(),
            )));
        }
        Ok(token)
    }

    /// RFC 6749 §5.2's `{"error", "error_description"}`, by what can be done.
    fn token_error(&self, response: &HttpResponse, refreshing: bool) -> ChannelError {
        #[derive(Deserialize)]
        struct ErrorBody {
            error: String,
            error_description: Option<String>,
        }
        let status = response.status;
        let Ok(body) = response.json::<ErrorBody>() else {
            return self.channel_error(RequestError::status(response));
        };
        let message = match body.error_description.as_deref().map(str::trim) {
            Some(description) if !description.is_empty() => format!("{}: {description}", body.error),
            _ => body.error.clone(),
        };
        let message = format!(
            "{} refused the token request ({status}): {message}",
            self.provider
        );
        match body.error.as_str() {
            "invalid_grant" if refreshing => {
                ChannelError::permanent(ErrorCode::ReauthorizationRequired, message)
            }
            "access_denied" => ChannelError::permanent(ErrorCode::AccessDenied, message),
            "temporarily_unavailable" | "server_error" => {
                ChannelError::transient(ErrorCode::ProviderUnavailable, message)
            }
            "invalid_request" | "unsupported_grant_type" => {
                ChannelError::permanent(ErrorCode::ProviderRejected, message)
            }
            _ if status == 429 || status >= 500 => {
                status_error(status, message).with_retry_after_ms(response.retry_after_ms())
            }
            _ => ChannelError::permanent(ErrorCode::ProviderRejected, message),
        }
    }
}

/// A token endpoint's answer. Lifetimes are in seconds (numbers or numeric
/// strings are both accepted); fields a provider adds (an account id, …)
/// are kept in [`extra`](Self::extra).
#[derive(Debug, Clone, Deserialize)]
/// ```
/// use switchboard_sdk::oauth::TokenResponse;
///
/// let token: TokenResponse = serde_json::from_str(r#"{"access_token":"a-1","expires_in":"3600","scope":"messages"}"#)?;
/// assert_eq!((token.expires_in, token.scope.as_deref()), (Some(3600), Some("messages")));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Usually `Bearer`.
    #[serde(default)]
    pub token_type: Option<String>,
    /// The refresh token, when the provider issues one.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires.
    #[serde(default, deserialize_with = "lenient_secs")]
    pub expires_in: Option<u64>,
    /// Seconds until the refresh token expires (a common extension).
    #[serde(default, deserialize_with = "lenient_secs")]
    pub refresh_token_expires_in: Option<u64>,
    /// The scopes granted, as the provider writes them.
    #[serde(default)]
    pub scope: Option<String>,
    /// Every other field of the answer.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

fn lenient_secs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::Number(n)) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

impl TokenResponse {
    /// A string field of [`extra`](Self::extra), e.g. the account id some
    /// providers put in the token answer.
    /// ```
    /// use switchboard_sdk::oauth::TokenResponse;
    ///
    /// let token: TokenResponse = serde_json::from_str(r#"{"access_token":"a-1","open_id":"u-9","n":1}"#)?;
    /// assert_eq!(token.extra_str("open_id"), Some("u-9"));
    /// assert_eq!(token.extra_str("n"), None, "not a string");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn extra_str(&self, key: &str) -> Option<&str> {
        self.extra.get(key).and_then(Value::as_str)
    }

    /// Credentials from this answer at `now_ms`: expiries become unix
    /// milliseconds; `extra` is what the plugin keeps alongside, with
    /// `scope` replaced when the answer reports scopes; an empty refresh
    /// token counts as none.
    /// ```
    /// use switchboard_sdk::oauth::TokenResponse;
    /// use switchboard_sdk::types::KeyValue;
    ///
    /// let token: TokenResponse = serde_json::from_str(
    ///     r#"{"access_token":"a-1","refresh_token":"r-1","expires_in":3600,"refresh_token_expires_in":86400,"scope":"messages"}"#,
    /// )?;
    /// let now_ms = 1_700_000_000_000;
    /// let credentials = token.into_credentials(now_ms, vec![KeyValue::new("account", "acct-1")]);
    /// assert_eq!(credentials.expires_at_ms, Some(now_ms + 3_600_000));
    /// assert_eq!(credentials.refresh_expires_at_ms, Some(now_ms + 86_400_000));
    /// let extra: Vec<_> = credentials.extra.iter().map(|kv| (kv.key.as_str(), kv.value.as_str())).collect();
    /// assert_eq!(extra, [("account", "acct-1"), ("scope", "messages")]);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn into_credentials(self, now_ms: u64, mut extra: Vec<KeyValue>) -> Credentials {
        let at = |secs: Option<u64>| secs.map(|s| now_ms.saturating_add(s.saturating_mul(1000)));
        if let Some(scope) = self.scope {
            extra.retain(|kv| kv.key != "scope");
            extra.push(KeyValue::new("scope", scope));
        }
        let refresh_token = self.refresh_token.filter(|t| !t.is_empty());
        Credentials {
            access_token: self.access_token,
            refresh_expires_at_ms: refresh_token.as_ref().and(at(self.refresh_token_expires_in)),
            refresh_token,
            expires_at_ms: at(self.expires_in),
            extra,
        }
    }

    /// Credentials from a refresh's answer: `current`'s extras carry over,
    /// and so do its refresh token and expiry when the answer has none.
    /// ```
    /// use switchboard_sdk::oauth::TokenResponse;
    /// use switchboard_sdk::types::{Credentials, KeyValue};
    ///
    /// let current = Credentials {
    ///     access_token: "a-1".into(),
    ///     refresh_token: Some("r-1".into()),
    ///     expires_at_ms: None,
    ///     refresh_expires_at_ms: Some(2_000_000_000_000),
    ///     extra: vec![KeyValue::new("account", "acct-1")],
    /// };
    /// let token: TokenResponse = serde_json::from_str(r#"{"access_token":"a-2"}"#)?;
    /// let fresh = token.into_refreshed(current, 1_700_000_000_000);
    /// assert_eq!(fresh.refresh_token.as_deref(), Some("r-1"));
    /// assert_eq!(fresh.refresh_expires_at_ms, Some(2_000_000_000_000));
    /// assert_eq!(fresh.extra[0].value, "acct-1");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn into_refreshed(self, current: Credentials, now_ms: u64) -> Credentials {
        let mut fresh = self.into_credentials(now_ms, current.extra);
        if fresh.refresh_token.is_none() {
            fresh.refresh_token = current.refresh_token;
            fresh.refresh_expires_at_ms = current.refresh_expires_at_ms;
        }
        fresh
    }
}

/// Why an authorization callback carries no code.
#[derive(Debug, Clone, PartialEq, Eq)]
/// ```
/// use switchboard_sdk::oauth::{CallbackError, callback_code};
/// use switchboard_sdk::types::{ChannelError, ErrorCode, KeyValue};
///
/// let cancelled = [KeyValue::new("error", "access_denied"), KeyValue::new("state", "s")];
/// let error = callback_code(&cancelled).unwrap_err();
/// assert_eq!(error, CallbackError::Denied { error: "access_denied".into(), description: None });
/// let answer = ChannelError::from(error);
/// assert_eq!((answer.code, answer.message.as_str()), (ErrorCode::AccessDenied, "the user cancelled the authorization"));
/// ```
pub enum CallbackError {
    /// The provider sent `error` (e.g. `access_denied` when the user
    /// cancelled), maybe with an `error_description`.
    Denied {
        /// The `error` parameter.
        error: String,
        /// The `error_description` parameter, when not blank.
        description: Option<String>,
    },
    /// Neither `code` nor `error`.
    MissingCode,
}

/// `access-denied` with the provider's description (or a sentence for
/// `access_denied`), `invalid-request` without a code.
impl From<CallbackError> for ChannelError {
    fn from(error: CallbackError) -> Self {
        match error {
            CallbackError::Denied {
                description: Some(description),
                ..
            } => ChannelError::permanent(ErrorCode::AccessDenied, description),
            CallbackError::Denied { error, .. } if error == "access_denied" => {
                ChannelError::permanent(ErrorCode::AccessDenied, "the user cancelled the authorization")
            }
            CallbackError::Denied { error, .. } => ChannelError::permanent(
                ErrorCode::AccessDenied,
                format!("the provider refused the authorization: {error}"),
            ),
            CallbackError::MissingCode => {
                ChannelError::invalid_request("the authorization callback has neither `code` nor `error`")
            }
        }
    }
}

/// The authorization code of a callback's query (trimmed), or why there is
/// none. An `error` wins over a `code`.
/// ```
/// use switchboard_sdk::oauth::{CallbackError, callback_code};
/// use switchboard_sdk::types::KeyValue;
///
/// let query = [KeyValue::new("code", " code-1 "), KeyValue::new("state", "s")];
/// assert_eq!(callback_code(&query), Ok("code-1"));
/// assert_eq!(callback_code(&[]), Err(CallbackError::MissingCode));
/// ```
pub fn callback_code(query: &[KeyValue]) -> Result<&str, CallbackError> {
    let param = |key: &str| {
        crate::find_value(query, key)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(error) = param("error") {
        return Err(CallbackError::Denied {
            error: error.to_owned(),
            description: param("error_description").map(str::to_owned),
        });
    }
    param("code").ok_or(CallbackError::MissingCode)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::testing::{FakeTransport, header, kv, response};

    const NOW: u64 = 1_700_000_000_000;

    fn client() -> OAuthClient<'static> {
        OAuthClient::new(
            "client-1",
            "secret-1",
            "https://auth.example/authorize",
            "https://auth.example/token",
        )
        .named("example", "Example")
    }

    fn form(body: &[u8]) -> Vec<(String, String)> {
        crate::http::decode_query(std::str::from_utf8(body).unwrap())
    }

    fn pairs(list: &[(String, String)]) -> Vec<(&str, &str)> {
        list.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn the_authorization_url_carries_the_standard_parameters() {
        assert_eq!(
            client().authorization_url(
                "https://h/cb",
                "st/1",
                &["read", "write"],
                &[("prompt", "consent")]
            ),
            "https://auth.example/authorize?response_type=code&client_id=client-1\
             &redirect_uri=https%3A%2F%2Fh%2Fcb&scope=read%20write&state=st%2F1&prompt=consent"
        );
        let commas = client().with_scope_separator(",");
        assert!(
            commas
                .authorization_url("r", "s", &["a", "b"], &[])
                .contains("scope=a%2Cb")
        );
        assert!(!client().authorization_url("r", "s", &[], &[]).contains("scope"));
    }

    #[test]
    fn a_code_is_exchanged_with_a_form_post() {
        let transport = FakeTransport::new([Ok(response(
            200,
            br#"{"access_token":"at","token_type":"Bearer","refresh_token":"rt","expires_in":"3600",
                "scope":"read write","account_id":"acct-9"}"#
                .to_vec(),
        ))]);
        let token = client()
            .exchange_code(&transport, "code-1", "https://h/cb")
            .unwrap();
        let request = transport.request(0);
        assert_eq!(
            (request.method.as_str(), request.url.as_str()),
            ("POST", "https://auth.example/token")
        );
        assert_eq!(
            header(&request, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(header(&request, "accept"), Some("application/json"));
        assert_eq!(
            pairs(&form(&request.body)),
            [
                ("grant_type", "authorization_code"),
                ("code", "code-1"),
                ("redirect_uri", "https://h/cb"),
                ("client_id", "client-1"),
                ("client_secret", "secret-1"),
            ]
        );
        assert_eq!(token.extra_str("account_id"), Some("acct-9"));
        let credentials = token.into_credentials(NOW, vec![kv("kept", "yes")]);
        assert_eq!(credentials.access_token, "at");
        assert_eq!(credentials.refresh_token.as_deref(), Some("rt"));
        assert_eq!(credentials.expires_at_ms, Some(NOW + 3_600_000));
        assert_eq!(credentials.refresh_expires_at_ms, None);
        let extra: Vec<_> = credentials
            .extra
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_str()))
            .collect();
        assert_eq!(extra, [("kept", "yes"), ("scope", "read write")]);
    }

    #[test]
    fn basic_auth_keeps_the_secret_out_of_the_body() {
        let transport = FakeTransport::new([Ok(response(200, br#"{"access_token":"at"}"#.to_vec()))]);
        client()
            .with_basic_auth()
            .exchange_code(&transport, "c", "r")
            .unwrap();
        let request = transport.request(0);
        assert_eq!(
            header(&request, "authorization"),
            Some("Basic Y2xpZW50LTE6c2VjcmV0LTE=")
        );
        assert!(!String::from_utf8_lossy(&request.body).contains("secret"));
    }

    #[test]
    fn token_errors_map_to_what_the_host_can_do() {
        let answer = |status: u16, body: &str| Ok(response(status, body.as_bytes().to_vec()));
        let transport = FakeTransport::new([
            answer(
                400,
                r#"{"error":"invalid_grant","error_description":"code expired"}"#,
            ),
            answer(401, r#"{"error":"invalid_client"}"#),
            answer(503, "<html>down</html>"),
            answer(200, r#"{"token_type":"Bearer"}"#),
            answer(200, r#"{"access_token":" "}"#),
        ]);
        let exchange = || client().exchange_code(&transport, "c", "r").unwrap_err();
        let expired = exchange();
        assert_eq!(
            (expired.code, expired.retryable),
            (ErrorCode::ProviderRejected, false)
        );
        assert_eq!(
            expired.message,
            "Example refused the token request (400): invalid_grant: code expired"
        );
        let client_refused = exchange();
        assert_eq!(client_refused.code, ErrorCode::ProviderRejected);
        assert!(client_refused.message.ends_with("(401): invalid_client"));
        let down = exchange();
        assert_eq!(
            (down.code, down.retryable),
            (ErrorCode::ProviderUnavailable, true)
        );
        assert_eq!(down.message, "503: <html>down</html>");
        let no_token = exchange();
        assert!(
            no_token.message.starts_with("unexpected answer from Example"),
            "{}",
            no_token.message
        );
        assert!(exchange().message.contains("empty `access_token`"));
    }

    fn current(refresh_expires_at_ms: Option<u64>) -> Credentials {
        Credentials {
            access_token: "old".into(),
            refresh_token: Some("rt-old".into()),
            expires_at_ms: Some(NOW - 1),
            refresh_expires_at_ms,
            extra: vec![kv("scope", "old"), kv("other", "kept")],
        }
    }

    #[test]
    fn a_refresh_keeps_what_the_answer_lacks() {
        let transport = FakeTransport::new([Ok(response(
            200,
            br#"{"access_token":"at-2","expires_in":60}"#.to_vec(),
        ))]);
        let fresh = client().refresh(&transport, current(Some(NOW + 5)), NOW).unwrap();
        assert_eq!(
            pairs(&form(&transport.request(0).body)),
            [
                ("grant_type", "refresh_token"),
                ("refresh_token", "rt-old"),
                ("client_id", "client-1"),
                ("client_secret", "secret-1"),
            ]
        );
        assert_eq!(fresh.access_token, "at-2");
        assert_eq!(fresh.refresh_token.as_deref(), Some("rt-old"));
        assert_eq!(fresh.refresh_expires_at_ms, Some(NOW + 5));
        assert_eq!(fresh.expires_at_ms, Some(NOW + 60_000));
        assert_eq!(fresh.extra.len(), 2);
    }

    #[test]
    fn a_refresh_that_cannot_work_asks_for_reauthorization() {
        let transport = FakeTransport::new([Ok(response(400, br#"{"error":"invalid_grant"}"#.to_vec()))]);
        let refused = client().refresh(&transport, current(None), NOW).unwrap_err();
        assert_eq!(
            (refused.code, refused.retryable),
            (ErrorCode::ReauthorizationRequired, false)
        );
        let expired = client().refresh(&transport, current(Some(NOW)), NOW).unwrap_err();
        assert_eq!(expired.code, ErrorCode::ReauthorizationRequired);
        let mut none = current(None);
        none.refresh_token = Some(String::new());
        let missing = client().refresh(&transport, none, NOW).unwrap_err();
        assert_eq!(missing.code, ErrorCode::ReauthorizationRequired);
        assert_eq!(transport.sent().len(), 1, "only the refused refresh was sent");
    }

    #[test]
    fn callbacks_answer_the_code_or_why_not() {
        let query = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| kv(k, v)).collect::<Vec<_>>();
        assert_eq!(
            callback_code(&query(&[("code", " c-1 "), ("state", "s")])),
            Ok("c-1")
        );
        assert_eq!(
            callback_code(&query(&[("state", "s")])),
            Err(CallbackError::MissingCode)
        );
        let denied = callback_code(&query(&[("code", "c"), ("error", "access_denied")])).unwrap_err();
        assert_eq!(
            denied,
            CallbackError::Denied {
                error: "access_denied".into(),
                description: None
            }
        );
        let error = ChannelError::from(denied);
        assert_eq!(
            (error.code, error.message.as_str()),
            (ErrorCode::AccessDenied, "the user cancelled the authorization")
        );
        let described = callback_code(&query(&[("error", "x"), ("error_description", "Nope")])).unwrap_err();
        assert_eq!(ChannelError::from(described).message, "Nope");
        let other = ChannelError::from(callback_code(&query(&[("error", "invalid_scope")])).unwrap_err());
        assert!(other.message.contains("invalid_scope"));
        let missing = ChannelError::from(CallbackError::MissingCode);
        assert_eq!(missing.code, ErrorCode::InvalidRequest);
    }
}
