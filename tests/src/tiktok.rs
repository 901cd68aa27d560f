//! `MockTikTok`: a loopback stand-in for TikTok's Business Messaging API, for
//! end-to-end tests of the real server binary with the real TikTok plugin.
//!
//! It speaks TikTok's wire format as described in `shared/docs/tiktok.md`:
//! every API answer is the envelope
//! `{"code": 0, "message": "OK", "request_id": "...", "data": {...}}`, and an
//! API error is HTTP 200 with a non-zero `code` (see [`codes`]), unless a test
//! injects an HTTP-level failure with [`MockTikTok::fail_next`].
//!
//! Layout of the mock's URL space (`url()` is `http://127.0.0.1:PORT`):
//! - the plugin's `api_base_url` is [`MockTikTok::api_base_url`]
//!   (`{url}/open_api/v1.3`); every [`Endpoint`] except the two below lives
//!   under it;
//! - the plugin's `auth_base_url` is the root ([`MockTikTok::auth_base_url`]),
//!   serving `GET /v2/auth/authorize`, which echoes its query as a JSON
//!   object so a test can check the URL the server built, or, to a browser
//!   (`Accept: text/html`), shows a consent page whose links return to the
//!   `redirect_uri` with a code for the grant [`MockTikTok::set_consent`]
//!   chose, or with `error=access_denied`;
//! - `GET /media/{media_id}/{filename}` serves inbound media to a client that
//!   sends `x-user: <valid access token>`.
//!
//! The mock records every request ([`MockTikTok::requests`]) before anything
//! else happens to it, including requests that then fail. The test sets the
//! world up (auth codes, business profiles, inbound media) and reads typed
//! records back ([`MockTikTok::sent`], [`MockTikTok::uploads`],
//! [`MockTikTok::tokens`]). Tokens never expire by time: they stop working
//! when refreshed or when the test calls [`MockTikTok::expire_access_tokens`]
//! or [`MockTikTok::expire_refresh_tokens`].
//!
//! The free functions at the bottom build webhook bodies exactly as TikTok
//! sends them (the `content` field is a JSON-encoded string) and [`sign`]
//! computes the `Tiktok-Signature` header.
//!
//! All state is one [`State`] behind one `Mutex`, never held across an await.
//! The mock must not know anything about Switchboard itself: it is TikTok.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State as Extract};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use sha2::Sha256;

/// The app id [`MockTikTok::start`] configures (TikTok's `client_key`).
pub const APP_ID: &str = "mock-tiktok-app";
/// The app secret [`MockTikTok::start`] configures (OAuth client secret,
/// webhook-registration secret and webhook signing key).
pub const APP_SECRET: &str = "mock-tiktok-secret";
/// The nine scopes the reference integration requires, comma-joined as
/// TikTok reports granted scopes; the default scope of [`AuthGrant::new`].
pub const REQUIRED_SCOPES: &str = "user.info.basic,user.info.username,user.info.stats,\
user.info.profile,user.account.type,user.insights,message.list.read,message.list.send,\
message.list.manage";
/// Access-token lifetime, in seconds, when a test sets none.
pub const DEFAULT_EXPIRES_IN: u64 = 86_400;
/// Refresh-token lifetime, in seconds, when a test sets none.
pub const DEFAULT_REFRESH_EXPIRES_IN: u64 = 2_592_000;

/// The largest request body the mock reads (TikTok allows 20 MB images).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// TikTok's envelope error codes the mock answers with.
pub mod codes {
    /// No permission; also a wrong client id/secret or app id/secret.
    pub const NO_PERMISSION: i64 = 40001;
    /// A parameter is missing, malformed or refers to nothing.
    pub const PARAM_ERROR: i64 = 40002;
    /// Rate limited (only ever injected by a test).
    pub const TOO_MANY_REQUESTS: i64 = 40100;
    /// The `Access-Token` is missing, unknown, refreshed away or expired.
    pub const ACCESS_TOKEN_INVALID: i64 = 40105;
    /// The refresh token is unknown, already used or expired.
    pub const REFRESH_TOKEN_INVALID: i64 = 40107;
    /// TikTok-side failure (only ever injected by a test).
    pub const INTERNAL_ERROR: i64 = 50002;
}

/// One route of the mock, used to inject failures and delays and to filter
/// recorded requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /v2/auth/authorize` (at the root, not under the API prefix).
    Authorize,
    /// `POST …/tt_user/oauth2/token/`: auth code → tokens.
    Token,
    /// `POST …/tt_user/oauth2/refresh_token/`.
    Refresh,
    /// `GET …/business/get/`: the business profile.
    BusinessGet,
    /// `POST …/business/message/send/`.
    MessageSend,
    /// `POST …/business/message/media/upload/` (multipart).
    MediaUpload,
    /// `POST …/business/message/media/download/`: media id → download URL.
    MediaDownload,
    /// `GET /media/{media_id}/{filename}`: the download URL itself.
    MediaFile,
    /// `POST …/business/webhook/update/`.
    WebhookUpdate,
    /// `GET …/business/webhook/list/`.
    WebhookList,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 10] = [
        Endpoint::Authorize,
        Endpoint::Token,
        Endpoint::Refresh,
        Endpoint::BusinessGet,
        Endpoint::MessageSend,
        Endpoint::MediaUpload,
        Endpoint::MediaDownload,
        Endpoint::MediaFile,
        Endpoint::WebhookUpdate,
        Endpoint::WebhookList,
    ];

    /// The route path (for [`Endpoint::MediaFile`], the axum pattern).
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Authorize => "/v2/auth/authorize",
            Endpoint::Token => "/open_api/v1.3/tt_user/oauth2/token/",
            Endpoint::Refresh => "/open_api/v1.3/tt_user/oauth2/refresh_token/",
            Endpoint::BusinessGet => "/open_api/v1.3/business/get/",
            Endpoint::MessageSend => "/open_api/v1.3/business/message/send/",
            Endpoint::MediaUpload => "/open_api/v1.3/business/message/media/upload/",
            Endpoint::MediaDownload => "/open_api/v1.3/business/message/media/download/",
            Endpoint::MediaFile => "/media/{media_id}/{filename}",
            Endpoint::WebhookUpdate => "/open_api/v1.3/business/webhook/update/",
            Endpoint::WebhookList => "/open_api/v1.3/business/webhook/list/",
        }
    }

    /// The endpoint a request path belongs to, if any.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        if path.starts_with("/media/") {
            return Some(Endpoint::MediaFile);
        }
        Endpoint::ALL.into_iter().find(|e| e.path() == path)
    }
}

/// What an injected failure answers instead of the real behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// An HTTP-level failure: this status with this (text) body.
    Http(u16, String),
    /// HTTP 200 with TikTok's envelope carrying this non-zero code and message.
    Code(i64, String),
}

impl Failure {
    /// HTTP 200 with an envelope error.
    pub fn code(code: i64, message: impl Into<String>) -> Self {
        Failure::Code(code, message.into())
    }

    /// An HTTP-level failure.
    pub fn http(status: u16, body: impl Into<String>) -> Self {
        Failure::Http(status, body.into())
    }

    fn param(message: impl Into<String>) -> Self {
        Failure::code(codes::PARAM_ERROR, message)
    }

    fn access_token() -> Self {
        Failure::code(codes::ACCESS_TOKEN_INVALID, "access token is invalid or expired")
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Http(status, body) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (status, body).into_response()
            }
            Failure::Code(code, message) => envelope(code, &message, Value::Object(Map::new())),
        }
    }
}

/// A successful answer: `data` inside the envelope with code 0.
struct Data(Value);

impl IntoResponse for Data {
    fn into_response(self) -> Response {
        envelope(0, "OK", self.0)
    }
}

fn envelope(code: i64, message: &str, data: Value) -> Response {
    use std::sync::atomic::{AtomicU64, Ordering};
    static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);
    let request_id = format!("mock-req-{}", REQUEST_IDS.fetch_add(1, Ordering::Relaxed));
    axum::Json(json!({
        "code": code,
        "message": message,
        "request_id": request_id,
        "data": data,
    }))
    .into_response()
}

/// What a test-registered auth code grants when exchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthGrant {
    /// The business account's `open_id` (Switchboard's business id).
    pub open_id: String,
    /// Granted scopes, comma-separated as TikTok reports them.
    pub scope: String,
    /// Access-token lifetime in seconds, as reported.
    pub expires_in: u64,
    /// Refresh-token lifetime in seconds, as reported.
    pub refresh_token_expires_in: u64,
}

impl AuthGrant {
    /// All [`REQUIRED_SCOPES`], default lifetimes.
    pub fn new(open_id: impl Into<String>) -> Self {
        Self {
            open_id: open_id.into(),
            scope: REQUIRED_SCOPES.to_owned(),
            expires_in: DEFAULT_EXPIRES_IN,
            refresh_token_expires_in: DEFAULT_REFRESH_EXPIRES_IN,
        }
    }

    /// The same grant with other scopes.
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }
}

/// A business account's profile, as `business/get` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// `username`.
    pub username: String,
    /// `display_name` (may be empty).
    pub display_name: String,
    /// `profile_image` URL; `None` answers `null`.
    pub profile_image: Option<String>,
}

impl Profile {
    /// A profile without an image.
    pub fn new(username: impl Into<String>, display_name: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            display_name: display_name.into(),
            profile_image: None,
        }
    }

    /// The same profile with an image URL.
    pub fn with_image(mut self, url: impl Into<String>) -> Self {
        self.profile_image = Some(url.into());
        self
    }
}

/// How a token pair was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issue {
    /// By exchanging an auth code.
    AuthCode,
    /// By a refresh.
    Refresh,
}

/// One issued access/refresh token pair, in issue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTokens {
    /// The business the tokens are for.
    pub open_id: String,
    /// `act.<n>`.
    pub access_token: String,
    /// `rft.<n>`.
    pub refresh_token: String,
    /// Code exchange or refresh.
    pub via: Issue,
}

/// One accepted `business/message/send/` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRecord {
    /// `business_id`.
    pub business_id: String,
    /// `recipient` (a TikTok conversation id).
    pub recipient: String,
    /// `TEXT` or `IMAGE`.
    pub message_type: String,
    /// `text.body` for TEXT.
    pub text: Option<String>,
    /// `image.media_id` for IMAGE.
    pub media_id: Option<String>,
    /// `referenced_message_info.referenced_message_id`, when replying.
    pub referenced_message_id: Option<String>,
    /// The id the mock answered (`tt-out-<n>`).
    pub message_id: String,
}

/// One accepted `business/message/media/upload/` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    /// `business_id` form field.
    pub business_id: String,
    /// `media_type` form field.
    pub media_type: String,
    /// The file part's filename.
    pub filename: String,
    /// The file part's content type.
    pub content_type: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The id the mock answered (`media-<n>`).
    pub media_id: String,
}

/// One request as received, before any handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ….
    pub method: String,
    /// The path, e.g. `/open_api/v1.3/business/get/`.
    pub path: String,
    /// The raw query string (empty when none).
    pub query: String,
    /// Headers in arrival order, names lowercase, values lossily UTF-8.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The route it hit, if any.
    pub endpoint: Option<Endpoint>,
}

impl RecordedRequest {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The decoded query pairs.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        match format!("/?{}", self.query).parse::<Uri>() {
            Ok(uri) => query_pairs(&uri),
            Err(_) => Vec::new(),
        }
    }

    /// The first decoded value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The body as JSON (`None` when it is not JSON).
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A media file a (simulated) TikTok user sent, served by the download URL.
#[derive(Debug, Clone)]
struct InboundMedia {
    bytes: Vec<u8>,
    content_type: String,
    filename: String,
}

/// A live token pair: what a refresh token stands for.
#[derive(Debug, Clone)]
struct Session {
    open_id: String,
    scope: String,
    access_token: String,
}

/// Everything the mock knows; one per mock, behind one mutex.
#[derive(Debug)]
struct State {
    url: String,
    app_id: String,
    app_secret: String,
    auth_codes: HashMap<String, AuthGrant>,
    /// What the consent page's "Authorize" grants.
    consent: Option<AuthGrant>,
    /// Valid access token → open_id.
    access_tokens: HashMap<String, String>,
    /// Valid refresh token → session.
    refresh_tokens: HashMap<String, Session>,
    lifetimes: (u64, u64),
    issued: Vec<IssuedTokens>,
    businesses: HashMap<String, Profile>,
    sent: Vec<SentRecord>,
    uploads: Vec<UploadRecord>,
    inbound_media: HashMap<String, InboundMedia>,
    webhook_callback: Option<String>,
    failures: HashMap<Endpoint, VecDeque<Failure>>,
    delays: HashMap<Endpoint, Duration>,
    requests: Vec<RecordedRequest>,
    next_token: u64,
    next_message: u64,
    next_media: u64,
}

#[derive(Clone)]
struct Shared(Arc<Mutex<State>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide later requests' answers.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The mock TikTok server; stops when dropped.
pub struct MockTikTok {
    url: String,
    shared: Shared,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl MockTikTok {
    /// Starts one for the app [`APP_ID`] / [`APP_SECRET`].
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with_app(APP_ID, APP_SECRET).await
    }

    /// Starts one for the given app id and secret.
    pub async fn start_with_app(app_id: &str, app_secret: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Shared(Arc::new(Mutex::new(State {
            url: url.clone(),
            app_id: app_id.to_owned(),
            app_secret: app_secret.to_owned(),
            auth_codes: HashMap::new(),
            consent: None,
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            lifetimes: (DEFAULT_EXPIRES_IN, DEFAULT_REFRESH_EXPIRES_IN),
            issued: Vec::new(),
            businesses: HashMap::new(),
            sent: Vec::new(),
            uploads: Vec::new(),
            inbound_media: HashMap::new(),
            webhook_callback: None,
            failures: HashMap::new(),
            delays: HashMap::new(),
            requests: Vec::new(),
            next_token: 0,
            next_message: 0,
            next_media: 0,
        })));
        let app = router(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            shared,
            http: reqwest::Client::new(),
            server,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The plugin's `api_base_url`: `{url}/open_api/v1.3`.
    pub fn api_base_url(&self) -> String {
        format!("{}/open_api/v1.3", self.url)
    }

    /// The plugin's `auth_base_url`: the root, serving `/v2/auth/authorize`.
    pub fn auth_base_url(&self) -> &str {
        &self.url
    }

    /// The configured app id.
    pub fn app_id(&self) -> String {
        self.shared.lock().app_id.clone()
    }

    /// The configured app secret.
    pub fn app_secret(&self) -> String {
        self.shared.lock().app_secret.clone()
    }

    /// Registers an auth code; it can be exchanged once.
    pub fn add_auth_code(&self, code: &str, grant: AuthGrant) {
        self.shared.lock().auth_codes.insert(code.to_owned(), grant);
    }

    /// What a browser's "Authorize" on the consent page grants (each visit
    /// of the page issues a fresh code for it).
    pub fn set_consent(&self, grant: AuthGrant) {
        self.shared.lock().consent = Some(grant);
    }

    /// Registers (or replaces) the profile `business/get` returns for `open_id`.
    pub fn add_business(&self, open_id: &str, profile: Profile) {
        self.shared.lock().businesses.insert(open_id.to_owned(), profile);
    }

    /// Registers media a user sent, for `media/download/` and `/media/…`.
    pub fn add_inbound_media(
        &self,
        media_id: &str,
        bytes: impl Into<Vec<u8>>,
        content_type: &str,
        filename: &str,
    ) {
        self.shared.lock().inbound_media.insert(
            media_id.to_owned(),
            InboundMedia {
                bytes: bytes.into(),
                content_type: content_type.to_owned(),
                filename: filename.to_owned(),
            },
        );
    }

    /// Lifetimes reported by later refreshes (auth-code exchanges report
    /// their [`AuthGrant`]'s).
    pub fn set_token_lifetimes(&self, expires_in: u64, refresh_token_expires_in: u64) {
        self.shared.lock().lifetimes = (expires_in, refresh_token_expires_in);
    }

    /// Holds every later request to `endpoint` for `delay` before answering
    /// (the request is recorded at once); `Duration::ZERO` removes the delay.
    pub fn set_delay(&self, endpoint: Endpoint, delay: Duration) {
        let mut state = self.shared.lock();
        if delay.is_zero() {
            state.delays.remove(&endpoint);
        } else {
            state.delays.insert(endpoint, delay);
        }
    }

    /// [`MockTikTok::set_delay`] for the refresh endpoint, to test that
    /// concurrent callers share one refresh.
    pub fn set_refresh_delay(&self, delay: Duration) {
        self.set_delay(Endpoint::Refresh, delay);
    }

    /// Answers the next `times` requests to `endpoint` with `failure`
    /// instead of handling them (they have no effect, but are recorded).
    /// Failures queue up behind ones injected earlier.
    pub fn fail_next(&self, endpoint: Endpoint, times: u32, failure: Failure) {
        let mut state = self.shared.lock();
        let queue = state.failures.entry(endpoint).or_default();
        queue.extend(std::iter::repeat_n(failure, times as usize));
    }

    /// Makes every access token issued so far invalid (40105), as if expired;
    /// refresh tokens stay valid.
    pub fn expire_access_tokens(&self) {
        self.shared.lock().access_tokens.clear();
    }

    /// Makes every refresh token issued so far invalid (40107).
    pub fn expire_refresh_tokens(&self) {
        self.shared.lock().refresh_tokens.clear();
    }

    /// Requests to the refresh endpoint so far, failed ones included.
    pub fn refresh_calls(&self) -> usize {
        self.requests_to(Endpoint::Refresh).len()
    }

    /// Every token pair issued, in order.
    pub fn tokens(&self) -> Vec<IssuedTokens> {
        self.shared.lock().issued.clone()
    }

    /// Whether `token` is currently a valid access token.
    pub fn is_valid_access_token(&self, token: &str) -> bool {
        self.shared.lock().access_tokens.contains_key(token)
    }

    /// Every accepted send, in order.
    pub fn sent(&self) -> Vec<SentRecord> {
        self.shared.lock().sent.clone()
    }

    /// Every accepted upload, in order.
    pub fn uploads(&self) -> Vec<UploadRecord> {
        self.shared.lock().uploads.clone()
    }

    /// The registered webhook callback URL, if any.
    pub fn webhook_callback(&self) -> Option<String> {
        self.shared.lock().webhook_callback.clone()
    }

    /// Sets (or clears) the webhook callback as if registered earlier.
    pub fn set_webhook_callback(&self, url: Option<&str>) {
        self.shared.lock().webhook_callback = url.map(str::to_owned);
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The requests that hit `endpoint`, in order.
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<RecordedRequest> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.endpoint == Some(endpoint))
            .cloned()
            .collect()
    }

    /// POSTs `event` to `url` as TikTok delivers webhooks: JSON body and a
    /// `Tiktok-Signature` made with the app secret and the current time.
    /// Answers the HTTP status.
    pub async fn deliver(&self, url: &str, event: &Value) -> anyhow::Result<u16> {
        let body = serde_json::to_vec(event)?;
        let signature = sign(&self.app_secret(), unix_now(), &body);
        let response = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("Tiktok-Signature", signature)
            .body(body)
            .send()
            .await?;
        Ok(response.status().as_u16())
    }
}

impl Drop for MockTikTok {
    fn drop(&mut self) {
        self.server.abort();
    }
}

// ---------------------------------------------------------------------------
// Router, recording middleware and handlers.

fn router(shared: Shared) -> Router {
    // Each `.layer()` wraps everything above it, the fallback included: the
    // body limit applies to the extractors, and `record` sees every request.
    Router::new()
        .route(Endpoint::Authorize.path(), get(authorize))
        .route(Endpoint::Token.path(), post(token))
        .route(Endpoint::Refresh.path(), post(refresh))
        .route(Endpoint::BusinessGet.path(), get(business_get))
        .route(Endpoint::MessageSend.path(), post(message_send))
        .route(Endpoint::MediaUpload.path(), post(media_upload))
        .route(Endpoint::MediaDownload.path(), post(media_download))
        .route(Endpoint::MediaFile.path(), get(media_file))
        .route(Endpoint::WebhookUpdate.path(), post(webhook_update))
        .route(Endpoint::WebhookList.path(), get(webhook_list))
        .fallback(unknown)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(shared.clone(), record))
        .with_state(shared)
}

/// Records the request, then applies an injected delay and failure.
async fn record(Extract(shared): Extract<Shared>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(e) => return Failure::http(400, format!("unreadable body: {e}")).into_response(),
    };
    let endpoint = Endpoint::from_path(parts.uri.path());
    let (delay, failure) = {
        let mut state = shared.lock();
        state.requests.push(RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or_default().to_owned(),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            endpoint,
        });
        match endpoint {
            Some(e) => (
                state.delays.get(&e).copied(),
                state.failures.get_mut(&e).and_then(VecDeque::pop_front),
            ),
            None => (None, None),
        }
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(failure) = failure {
        return failure.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

async fn unknown(uri: Uri) -> Response {
    let failure = Failure::param(format!("mock TikTok has no endpoint {}", uri.path()));
    (StatusCode::NOT_FOUND, failure).into_response()
}

async fn authorize(Extract(shared): Extract<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let pairs = query_pairs(&uri);
    let browser = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if !browser {
        let query: Map<String, Value> = pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        return axum::Json(Value::Object(query)).into_response();
    }
    let redirect = query_value(&pairs, "redirect_uri").unwrap_or_default().to_owned();
    let state = query_value(&pairs, "state").unwrap_or_default().to_owned();
    let back = |extra: &[(&str, &str)]| {
        let Ok(mut url) = reqwest::Url::parse(&redirect) else {
            return String::new();
        };
        url.query_pairs_mut()
            .extend_pairs(extra.iter().copied())
            .append_pair("state", &state);
        url.to_string()
    };
    let authorize = {
        let mut guard = shared.lock();
        guard.consent.clone().map(|grant| {
            guard.next_token += 1;
            let code = format!("consent-{}", guard.next_token);
            guard.auth_codes.insert(code.clone(), grant);
            back(&[("code", &code)])
        })
    };
    let cancel = back(&[
        ("error", "access_denied"),
        ("error_description", "User cancelled"),
    ]);
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
    };
    let authorize_link = authorize
        .map(|href| format!(r#"<a id="authorize" href="{}">Authorize</a> "#, escape(&href)))
        .unwrap_or_default();
    let page = format!(
        r#"<!doctype html><html lang="en"><head><title>TikTok (mock) consent</title></head>
<body><h1>Allow this app to manage your business messages?</h1>
<p>{authorize_link}<a id="cancel" href="{}">Cancel</a></p></body></html>"#,
        escape(&cancel)
    );
    ([(CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

async fn token(Extract(shared): Extract<Shared>, headers: HeaderMap, body: Bytes) -> Result<Data, Failure> {
    let body: TokenBody = parse_json(&headers, &body)?;
    shared.lock().exchange_code(body).map(Data)
}

async fn refresh(Extract(shared): Extract<Shared>, headers: HeaderMap, body: Bytes) -> Result<Data, Failure> {
    let body: RefreshBody = parse_json(&headers, &body)?;
    shared.lock().refresh(body).map(Data)
}

async fn business_get(
    Extract(shared): Extract<Shared>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Data, Failure> {
    let query = query_pairs(&uri);
    shared.lock().business(&headers, &query).map(Data)
}

async fn message_send(
    Extract(shared): Extract<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Data, Failure> {
    let body: SendBody = parse_json(&headers, &body)?;
    shared.lock().send(&headers, body).map(Data)
}

async fn media_upload(
    Extract(shared): Extract<Shared>,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Data, Failure> {
    let form = form.map_err(|e| Failure::param(format!("expected multipart/form-data: {e}")))?;
    let form = UploadForm::read(form).await?;
    shared.lock().upload(&headers, form).map(Data)
}

async fn media_download(
    Extract(shared): Extract<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Data, Failure> {
    let body: DownloadBody = parse_json(&headers, &body)?;
    shared.lock().download_url(&headers, body).map(Data)
}

async fn media_file(
    Extract(shared): Extract<Shared>,
    headers: HeaderMap,
    Path((media_id, filename)): Path<(String, String)>,
) -> Response {
    shared.lock().media_file(&headers, &media_id, &filename)
}

async fn webhook_update(
    Extract(shared): Extract<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Data, Failure> {
    let body: WebhookBody = parse_json(&headers, &body)?;
    shared.lock().update_webhook(body).map(Data)
}

async fn webhook_list(Extract(shared): Extract<Shared>, uri: Uri) -> Result<Data, Failure> {
    let query = query_pairs(&uri);
    shared.lock().list_webhook(&query).map(Data)
}

// ---------------------------------------------------------------------------
// Request shapes. Every field is optional so that a missing one answers
// 40002 naming it, instead of a serde error.

#[derive(Deserialize)]
struct TokenBody {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    auth_code: Option<String>,
    redirect_uri: Option<String>,
}

#[derive(Deserialize)]
struct RefreshBody {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct SendBody {
    business_id: Option<String>,
    recipient_type: Option<String>,
    recipient: Option<String>,
    message_type: Option<String>,
    text: Option<TextPart>,
    image: Option<ImagePart>,
    referenced_message_info: Option<ReferencedPart>,
}

#[derive(Deserialize)]
struct TextPart {
    body: Option<String>,
}

#[derive(Deserialize)]
struct ImagePart {
    media_id: Option<String>,
}

#[derive(Deserialize)]
struct ReferencedPart {
    referenced_message_id: Option<String>,
}

#[derive(Deserialize)]
struct DownloadBody {
    business_id: Option<String>,
    conversation_id: Option<String>,
    message_id: Option<String>,
    media_id: Option<String>,
    media_type: Option<String>,
}

#[derive(Deserialize)]
struct WebhookBody {
    app_id: Option<String>,
    secret: Option<String>,
    event_type: Option<String>,
    callback_url: Option<String>,
}

/// The multipart form of `media/upload/`, read whole.
struct UploadForm {
    business_id: Option<String>,
    media_type: Option<String>,
    file: Option<(Option<String>, Option<String>, Vec<u8>)>,
}

impl UploadForm {
    async fn read(mut form: Multipart) -> Result<Self, Failure> {
        let bad =
            |e: axum::extract::multipart::MultipartError| Failure::param(format!("bad multipart body: {e}"));
        let mut out = UploadForm {
            business_id: None,
            media_type: None,
            file: None,
        };
        while let Some(field) = form.next_field().await.map_err(bad)? {
            match field.name().unwrap_or_default() {
                "business_id" => out.business_id = Some(field.text().await.map_err(bad)?),
                "media_type" => out.media_type = Some(field.text().await.map_err(bad)?),
                "file" => {
                    if out.file.is_some() {
                        return Err(Failure::param("only one file part is allowed"));
                    }
                    let filename = field.file_name().map(str::to_owned);
                    let content_type = field.content_type().map(str::to_owned);
                    let bytes = field.bytes().await.map_err(bad)?.to_vec();
                    out.file = Some((filename, content_type, bytes));
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Failure> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(Failure::param(format!(
            "Content-Type must be application/json, got {content_type:?}"
        )));
    }
    serde_json::from_slice(body).map_err(|e| Failure::param(format!("invalid JSON body: {e}")))
}

/// A required, non-empty string parameter.
fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, Failure> {
    match value.as_deref() {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Failure::param(format!("{name} is required"))),
    }
}

fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|Query(pairs)| pairs)
        .unwrap_or_default()
}

fn access_token(headers: &HeaderMap) -> Option<&str> {
    headers.get("access-token").and_then(|v| v.to_str().ok())
}

// ---------------------------------------------------------------------------
// Behaviour: pure functions of the state and the request.

impl State {
    fn check_client(&self, id: &Option<String>, secret: &Option<String>) -> Result<(), Failure> {
        if id.as_deref() == Some(self.app_id.as_str()) && secret.as_deref() == Some(self.app_secret.as_str())
        {
            Ok(())
        } else {
            Err(Failure::code(codes::NO_PERMISSION, "invalid client"))
        }
    }

    fn check_app(&self, id: Option<&str>, secret: Option<&str>) -> Result<(), Failure> {
        if id == Some(self.app_id.as_str()) && secret == Some(self.app_secret.as_str()) {
            Ok(())
        } else {
            Err(Failure::code(codes::NO_PERMISSION, "app_id or secret is invalid"))
        }
    }

    /// The `Access-Token` header must be valid and belong to `business_id`.
    fn check_token(&self, headers: &HeaderMap, business_id: &str) -> Result<(), Failure> {
        let owner = access_token(headers).and_then(|t| self.access_tokens.get(t));
        match owner {
            Some(owner) if owner == business_id => Ok(()),
            _ => Err(Failure::access_token()),
        }
    }

    fn issue(&mut self, open_id: &str, scope: &str, via: Issue) -> IssuedTokens {
        self.next_token += 1;
        let tokens = IssuedTokens {
            open_id: open_id.to_owned(),
            access_token: format!("act.{}", self.next_token),
            refresh_token: format!("rft.{}", self.next_token),
            via,
        };
        self.access_tokens
            .insert(tokens.access_token.clone(), open_id.to_owned());
        self.refresh_tokens.insert(
            tokens.refresh_token.clone(),
            Session {
                open_id: open_id.to_owned(),
                scope: scope.to_owned(),
                access_token: tokens.access_token.clone(),
            },
        );
        self.issued.push(tokens.clone());
        tokens
    }

    fn exchange_code(&mut self, body: TokenBody) -> Result<Value, Failure> {
        self.check_client(&body.client_id, &body.client_secret)?;
        if body.grant_type.as_deref() != Some("authorization_code") {
            return Err(Failure::param("grant_type must be authorization_code"));
        }
        let code = required(&body.auth_code, "auth_code")?;
        required(&body.redirect_uri, "redirect_uri")?;
        let grant = self
            .auth_codes
            .remove(code)
            .ok_or_else(|| Failure::param("auth_code is invalid"))?;
        let tokens = self.issue(&grant.open_id, &grant.scope, Issue::AuthCode);
        Ok(token_data(
            &tokens,
            &grant.scope,
            grant.expires_in,
            grant.refresh_token_expires_in,
        ))
    }

    fn refresh(&mut self, body: RefreshBody) -> Result<Value, Failure> {
        self.check_client(&body.client_id, &body.client_secret)?;
        if body.grant_type.as_deref() != Some("refresh_token") {
            return Err(Failure::param("grant_type must be refresh_token"));
        }
        let old = required(&body.refresh_token, "refresh_token")?;
        let session = self.refresh_tokens.remove(old).ok_or_else(|| {
            Failure::code(
                codes::REFRESH_TOKEN_INVALID,
                "refresh token is invalid or expired",
            )
        })?;
        self.access_tokens.remove(&session.access_token);
        let tokens = self.issue(&session.open_id, &session.scope, Issue::Refresh);
        let (expires_in, refresh_expires_in) = self.lifetimes;
        Ok(token_data(
            &tokens,
            &session.scope,
            expires_in,
            refresh_expires_in,
        ))
    }

    fn business(&self, headers: &HeaderMap, query: &[(String, String)]) -> Result<Value, Failure> {
        let business_id = query_value(query, "business_id")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Failure::param("business_id is required"))?;
        self.check_token(headers, business_id)?;
        let profile = self
            .businesses
            .get(business_id)
            .ok_or_else(|| Failure::param(format!("no profile registered for business {business_id}")))?;
        let all = json!({
            "username": profile.username,
            "display_name": profile.display_name,
            "profile_image": profile.profile_image,
        });
        // `fields` is a JSON array of names, e.g. ["username", "display_name"].
        let Some(fields) = query_value(query, "fields") else {
            return Ok(all);
        };
        let fields: Vec<String> = serde_json::from_str(fields)
            .map_err(|_| Failure::param(format!("fields must be a JSON array of strings, got {fields:?}")))?;
        Ok(Value::Object(
            fields
                .into_iter()
                .filter_map(|f| Some((f.clone(), all.get(&f)?.clone())))
                .collect(),
        ))
    }

    fn send(&mut self, headers: &HeaderMap, body: SendBody) -> Result<Value, Failure> {
        let business_id = required(&body.business_id, "business_id")?;
        self.check_token(headers, business_id)?;
        if body.recipient_type.as_deref() != Some("CONVERSATION") {
            return Err(Failure::param("recipient_type must be CONVERSATION"));
        }
        let recipient = required(&body.recipient, "recipient")?;
        let message_type = required(&body.message_type, "message_type")?;
        let (text, media_id) = match message_type {
            "TEXT" => {
                let text = body.text.as_ref().and_then(|t| t.body.clone());
                (Some(required(&text, "text.body")?.to_owned()), None)
            }
            "IMAGE" => {
                let media_id = body.image.as_ref().and_then(|i| i.media_id.clone());
                let media_id = required(&media_id, "image.media_id")?;
                let uploaded = self
                    .uploads
                    .iter()
                    .any(|u| u.media_id == media_id && u.business_id == business_id);
                if !uploaded {
                    return Err(Failure::param(format!("media_id {media_id} was not uploaded")));
                }
                (None, Some(media_id.to_owned()))
            }
            other => return Err(Failure::param(format!("unsupported message_type {other}"))),
        };
        let referenced_message_id = match &body.referenced_message_info {
            Some(info) => Some(
                required(
                    &info.referenced_message_id,
                    "referenced_message_info.referenced_message_id",
                )?
                .to_owned(),
            ),
            None => None,
        };
        self.next_message += 1;
        let message_id = format!("tt-out-{}", self.next_message);
        self.sent.push(SentRecord {
            business_id: business_id.to_owned(),
            recipient: recipient.to_owned(),
            message_type: message_type.to_owned(),
            text,
            media_id,
            referenced_message_id,
            message_id: message_id.clone(),
        });
        Ok(json!({ "message": { "message_id": message_id } }))
    }

    fn upload(&mut self, headers: &HeaderMap, form: UploadForm) -> Result<Value, Failure> {
        let business_id = required(&form.business_id, "business_id")?;
        self.check_token(headers, business_id)?;
        if form.media_type.as_deref() != Some("IMAGE") {
            return Err(Failure::param("media_type must be IMAGE"));
        }
        let Some((filename, content_type, bytes)) = form.file else {
            return Err(Failure::param("file is required"));
        };
        let filename = required(&filename, "file filename")?;
        let content_type = required(&content_type, "file content type")?;
        if bytes.is_empty() {
            return Err(Failure::param("file is empty"));
        }
        self.next_media += 1;
        let media_id = format!("media-{}", self.next_media);
        self.uploads.push(UploadRecord {
            business_id: business_id.to_owned(),
            media_type: "IMAGE".to_owned(),
            filename: filename.to_owned(),
            content_type: content_type.to_owned(),
            bytes,
            media_id: media_id.clone(),
        });
        Ok(json!({ "media_id": media_id }))
    }

    fn download_url(&self, headers: &HeaderMap, body: DownloadBody) -> Result<Value, Failure> {
        let business_id = required(&body.business_id, "business_id")?;
        self.check_token(headers, business_id)?;
        required(&body.conversation_id, "conversation_id")?;
        required(&body.message_id, "message_id")?;
        required(&body.media_type, "media_type")?;
        let media_id = required(&body.media_id, "media_id")?;
        let media = self
            .inbound_media
            .get(media_id)
            .ok_or_else(|| Failure::param(format!("media_id {media_id} not found")))?;
        let mut url = reqwest::Url::parse(&self.url)
            .map_err(|e| Failure::code(codes::INTERNAL_ERROR, format!("mock url: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| Failure::code(codes::INTERNAL_ERROR, "mock url has no path"))?
            .clear()
            .push("media")
            .push(media_id)
            .push(&media.filename);
        Ok(json!({ "download_url": url.as_str() }))
    }

    fn media_file(&self, headers: &HeaderMap, media_id: &str, filename: &str) -> Response {
        let user = headers.get("x-user").and_then(|v| v.to_str().ok());
        if !user.is_some_and(|t| self.access_tokens.contains_key(t)) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        match self.inbound_media.get(media_id) {
            Some(media) if media.filename == filename => {
                ([(CONTENT_TYPE, media.content_type.clone())], media.bytes.clone()).into_response()
            }
            _ => StatusCode::NOT_FOUND.into_response(),
        }
    }

    fn update_webhook(&mut self, body: WebhookBody) -> Result<Value, Failure> {
        self.check_app(body.app_id.as_deref(), body.secret.as_deref())?;
        if body.event_type.as_deref() != Some("DIRECT_MESSAGE") {
            return Err(Failure::param("event_type must be DIRECT_MESSAGE"));
        }
        let callback_url = required(&body.callback_url, "callback_url")?;
        self.webhook_callback = Some(callback_url.to_owned());
        Ok(self.webhook_data())
    }

    fn list_webhook(&self, query: &[(String, String)]) -> Result<Value, Failure> {
        self.check_app(query_value(query, "app_id"), query_value(query, "secret"))?;
        if query_value(query, "event_type") != Some("DIRECT_MESSAGE") {
            return Err(Failure::param("event_type must be DIRECT_MESSAGE"));
        }
        Ok(self.webhook_data())
    }

    /// `{app_id, event_type, callback_url}`; `callback_url` is absent (not
    /// an empty string) while nothing is registered.
    fn webhook_data(&self) -> Value {
        let mut data = json!({ "app_id": self.app_id, "event_type": "DIRECT_MESSAGE" });
        if let Some(url) = &self.webhook_callback {
            data["callback_url"] = Value::String(url.clone());
        }
        data
    }
}

fn token_data(tokens: &IssuedTokens, scope: &str, expires_in: u64, refresh_expires_in: u64) -> Value {
    json!({
        "open_id": tokens.open_id,
        "scope": scope,
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_in": expires_in,
        "refresh_token_expires_in": refresh_expires_in,
        "token_type": "Bearer",
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Webhook bodies and signatures, as TikTok sends them.

/// The `Tiktok-Signature` header value for `body` sent at `timestamp`
/// (unix seconds): `t=<ts>,s=<hex HMAC-SHA256(secret, "<ts>.<body>")>`.
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("t={timestamp},s={}", hex::encode(mac.finalize().into_bytes()))
}

/// A webhook event: `{"event": name, "user_openid": business_id, "content":
/// "<content as a JSON string>"}`.
pub fn event(name: &str, business_id: &str, content: Value) -> Value {
    json!({
        "event": name,
        "user_openid": business_id,
        "content": content.to_string(),
    })
}

/// Parses an event's `content` string back into JSON (`Null` if it is not).
pub fn content(event: &Value) -> Value {
    event["content"]
        .as_str()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(Value::Null)
}

/// Changes an event's inner `content` (decoded, edited, re-encoded), e.g. to
/// rename the sender or add `referenced_message_info`.
pub fn edit_content(event: &mut Value, edit: impl FnOnce(&mut Value)) {
    let mut inner = content(event);
    edit(&mut inner);
    event["content"] = Value::String(inner.to_string());
}

/// Who a message goes between.
struct Route<'a> {
    event: &'a str,
    business_id: &'a str,
    conversation_id: &'a str,
    from: &'a str,
    to: &'a str,
}

/// A message event. The display strings `from`/`to` repeat the ids; change
/// them with [`edit_content`] where a test cares.
fn message(route: Route<'_>, message_id: &str, timestamp_ms: u64, kind: &str, body: Option<Value>) -> Value {
    let mut content = json!({
        "type": kind,
        "message_id": message_id,
        "timestamp": timestamp_ms,
        "conversation_id": route.conversation_id,
        "from": route.from,
        "from_user": { "id": route.from },
        "to": route.to,
        "to_user": { "id": route.to },
    });
    if let Some(body) = body {
        content[kind] = body;
    }
    event(route.event, route.business_id, content)
}

fn received<'a>(business_id: &'a str, conversation_id: &'a str, user_id: &'a str) -> Route<'a> {
    Route {
        event: "im_receive_msg",
        business_id,
        conversation_id,
        from: user_id,
        to: business_id,
    }
}

/// `im_receive_msg`: the user sent a text.
pub fn received_text(
    business_id: &str,
    conversation_id: &str,
    user_id: &str,
    message_id: &str,
    text: &str,
    timestamp_ms: u64,
) -> Value {
    let route = received(business_id, conversation_id, user_id);
    message(
        route,
        message_id,
        timestamp_ms,
        "text",
        Some(json!({ "body": text })),
    )
}

/// `im_receive_msg`: the user sent an image (fetch it with `media/download/`).
pub fn received_image(
    business_id: &str,
    conversation_id: &str,
    user_id: &str,
    message_id: &str,
    media_id: &str,
    timestamp_ms: u64,
) -> Value {
    let route = received(business_id, conversation_id, user_id);
    message(
        route,
        message_id,
        timestamp_ms,
        "image",
        Some(json!({ "media_id": media_id })),
    )
}

/// `im_receive_msg`: the user shared a post.
pub fn received_share_post(
    business_id: &str,
    conversation_id: &str,
    user_id: &str,
    message_id: &str,
    embed_url: &str,
    timestamp_ms: u64,
) -> Value {
    let route = received(business_id, conversation_id, user_id);
    message(
        route,
        message_id,
        timestamp_ms,
        "share_post",
        Some(json!({ "embed_url": embed_url })),
    )
}

/// `im_receive_msg`: the user sent a sticker (an unsupported type).
pub fn received_sticker(
    business_id: &str,
    conversation_id: &str,
    user_id: &str,
    message_id: &str,
    timestamp_ms: u64,
) -> Value {
    let route = received(business_id, conversation_id, user_id);
    message(route, message_id, timestamp_ms, "sticker", None)
}

/// `im_send_msg`: the business sent a text (an echo of our own send, or one
/// typed in the TikTok app); from = business, to = user.
pub fn sent_echo_text(
    business_id: &str,
    conversation_id: &str,
    user_id: &str,
    message_id: &str,
    text: &str,
    timestamp_ms: u64,
) -> Value {
    let route = Route {
        event: "im_send_msg",
        business_id,
        conversation_id,
        from: business_id,
        to: user_id,
    };
    message(
        route,
        message_id,
        timestamp_ms,
        "text",
        Some(json!({ "body": text })),
    )
}

/// `im_mark_read_msg`: the user read everything up to `last_read_timestamp_ms`.
pub fn mark_read(
    business_id: &str,
    conversation_id: &str,
    user_id: &str,
    last_read_timestamp_ms: u64,
) -> Value {
    event(
        "im_mark_read_msg",
        business_id,
        json!({
            "conversation_id": conversation_id,
            "read": { "last_read_timestamp": last_read_timestamp_ms },
            "from_user": { "id": user_id },
        }),
    )
}
