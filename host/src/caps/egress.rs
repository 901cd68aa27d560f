//! Outbound HTTP for plugins: the only way a plugin reaches the network.
//!
//! Policy, in order:
//! 1. the URL's origin must match an origin the plugin's manifest declares or
//!    one an admin granted (`switchboard plugin grant-host`);
//! 2. private, loopback, link-local and other non-public addresses are refused
//!    unless an admin *grant* names the origin — a manifest alone can never
//!    reach them. IP literals are checked here; host names are checked by the
//!    resolver of the plugin's own HTTP client, at connect time, so a DNS
//!    answer cannot swap in a private address after the check. The grant is
//!    per origin all the way down: a request to an origin no grant names goes
//!    through a client whose resolver answers public addresses only, so a
//!    grant of `http://x:9000` does not open `http://x:9001` even when the
//!    plugin declares it (resolvers see host names, not ports);
//! 3. redirects are not followed (the plugin sees the 3xx);
//! 4. per call: at most `max_requests` requests, request and response bodies
//!    capped, and no request outlives the call's deadline.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

use super::CallState;

/// An origin pattern: `scheme://host[:port]`, where the host may start with
/// `*.` to match any subdomain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: String,
    host: String,
    wildcard: bool,
    port: u16,
}

impl OriginPattern {
    /// Parses `https://api.example.com`, `http://127.0.0.1:8080` or
    /// `https://*.example.com`. Paths, queries and credentials are refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text.split_once("://").ok_or("expected scheme://host[:port]")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("scheme {scheme:?} is not http or https"));
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err("an origin has no path, query or credentials".into());
        }
        let (wildcard, rest) = match rest.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let url = Url::parse(&format!("{scheme}://{rest}/")).map_err(|e| e.to_string())?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("missing host")?
            .to_owned();
        let port = url.port_or_known_default().ok_or("missing port")?;
        if wildcard && host.parse::<IpAddr>().is_ok() {
            return Err("a wildcard needs a domain name".into());
        }
        Ok(Self {
            scheme,
            host,
            wildcard,
            port,
        })
    }

    /// Whether `url` is on this origin.
    pub fn matches(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else { return false };
        let host_ok = if self.wildcard {
            host.strip_suffix(&self.host)
                .is_some_and(|prefix| prefix.ends_with('.'))
        } else {
            host.eq_ignore_ascii_case(&self.host)
        };
        host_ok && url.scheme() == self.scheme && url.port_or_known_default() == Some(self.port)
    }

    fn matches_host(&self, host: &str) -> bool {
        if self.wildcard {
            host.strip_suffix(&self.host)
                .is_some_and(|prefix| prefix.ends_with('.'))
        } else {
            host.eq_ignore_ascii_case(&self.host)
        }
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let star = if self.wildcard { "*." } else { "" };
        let default =
            (self.scheme == "https" && self.port == 443) || (self.scheme == "http" && self.port == 80);
        if default {
            write!(f, "{}://{star}{}", self.scheme, self.host)
        } else {
            write!(f, "{}://{star}{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// Per-call caps on outbound HTTP.
#[derive(Debug, Clone, Copy)]
pub struct EgressLimits {
    /// Requests per call.
    pub max_requests: u32,
    /// Largest request body.
    pub max_request_bytes: usize,
    /// Largest response body.
    pub max_response_bytes: usize,
}

impl Default for EgressLimits {
    fn default() -> Self {
        Self {
            max_requests: 16,
            max_request_bytes: 16 << 20,
            max_response_bytes: 16 << 20,
        }
    }
}

/// Why a request was not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EgressErrorCode {
    /// Not allowed.
    Denied,
    /// Malformed.
    InvalidRequest,
    /// Connect or read failed.
    ConnectionFailed,
    /// Deadline passed.
    Timeout,
    /// Body too large.
    TooLarge,
    /// Too many requests in this call.
    LimitExceeded,
}

/// A failed request, with a message for the plugin's logs.
#[derive(Debug, Clone)]
pub struct EgressError {
    /// Kind.
    pub code: EgressErrorCode,
    /// Details.
    pub message: String,
}

impl EgressError {
    fn new(code: EgressErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A request a plugin wants sent.
pub struct EgressRequest {
    /// Method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// The provider's answer.
pub struct EgressResponse {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// One plugin's egress rules and its HTTP client.
pub struct EgressPolicy {
    declared: Vec<OriginPattern>,
    granted: Vec<OriginPattern>,
    limits: EgressLimits,
    /// For origins an admin granted: its resolver may answer private
    /// addresses of the granted hosts.
    granted_client: reqwest::Client,
    /// For every other origin: its resolver answers public addresses only.
    public_client: reqwest::Client,
}

fn client(resolver: GuardedResolver) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would resolve the target itself, past the guarded resolver.
        .no_proxy()
        .dns_resolver(Arc::new(resolver))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a reqwest client with rustls and a custom resolver always builds")
}

impl EgressPolicy {
    /// Builds the policy for a plugin from its manifest's origins and the
    /// admin's grants (grants that fail to parse are skipped with a warning).
    pub fn new(
        plugin_id: &str,
        declared: Vec<OriginPattern>,
        granted: &[String],
        limits: EgressLimits,
    ) -> Self {
        let granted: Vec<OriginPattern> = granted
            .iter()
            .filter_map(|g| {
                OriginPattern::parse(g)
                    .inspect_err(
                        |e| tracing::warn!(plugin = plugin_id, grant = %g, "ignoring bad grant: {e}"),
                    )
                    .ok()
            })
            .collect();
        let granted_client = client(GuardedResolver {
            private_ok: granted.clone(),
        });
        let public_client = client(GuardedResolver { private_ok: vec![] });
        Self {
            declared,
            granted,
            limits,
            granted_client,
            public_client,
        }
    }

    /// Checks the origin rules for `url` without sending anything; answers
    /// whether an admin grant names its origin (then, and only then, may the
    /// request reach a private address).
    pub fn check(&self, url: &Url) -> Result<bool, EgressError> {
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(EgressError::new(
                EgressErrorCode::InvalidRequest,
                "only http and https URLs",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(EgressError::new(
                EgressErrorCode::InvalidRequest,
                "credentials in URLs are refused",
            ));
        }
        let granted = self.granted.iter().any(|p| p.matches(url));
        if !granted && !self.declared.iter().any(|p| p.matches(url)) {
            return Err(EgressError::new(
                EgressErrorCode::Denied,
                format!(
                    "{} is not an origin this plugin declared or was granted",
                    url.origin().ascii_serialization()
                ),
            ));
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal
            && !granted
            && !is_public(ip)
        {
            return Err(EgressError::new(
                EgressErrorCode::Denied,
                format!("{ip} is a private or loopback address; only an admin grant can open it"),
            ));
        }
        Ok(granted)
    }

    /// Sends one request within the call's limits.
    pub async fn send(
        &self,
        call: &mut CallState,
        request: EgressRequest,
    ) -> Result<EgressResponse, EgressError> {
        use EgressErrorCode::*;
        call.http_requests += 1;
        if call.http_requests > self.limits.max_requests {
            return Err(EgressError::new(
                LimitExceeded,
                format!("at most {} requests per call", self.limits.max_requests),
            ));
        }
        if request.body.len() > self.limits.max_request_bytes {
            return Err(EgressError::new(
                TooLarge,
                format!("request body over {} bytes", self.limits.max_request_bytes),
            ));
        }
        let url = Url::parse(&request.url)
            .map_err(|e| EgressError::new(InvalidRequest, format!("bad URL: {e}")))?;
        let granted = self.check(&url)?;
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| EgressError::new(InvalidRequest, format!("bad method {:?}", request.method)))?;
        let remaining = call.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(EgressError::new(Timeout, "the call's deadline has passed"));
        }
        if let Some((name, _)) = request.headers.iter().find(|(name, _)| is_host_controlled(name)) {
            return Err(EgressError::new(
                InvalidRequest,
                format!("header {name:?} is set by the host"),
            ));
        }
        let client = if granted {
            &self.granted_client
        } else {
            &self.public_client
        };
        let mut builder = client.request(method, url).timeout(remaining).body(request.body);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let mut response = builder.send().await.map_err(|e| classify(&e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
            if body.len() + chunk.len() > self.limits.max_response_bytes {
                return Err(EgressError::new(
                    TooLarge,
                    format!("response body over {} bytes", self.limits.max_response_bytes),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(EgressResponse {
            status,
            headers,
            body,
        })
    }
}

fn classify(error: &reqwest::Error) -> EgressError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(denied) = e.downcast_ref::<PrivateAddressDenied>() {
            return EgressError::new(EgressErrorCode::Denied, denied.to_string());
        }
        source = e.source();
    }
    let code = if error.is_timeout() {
        EgressErrorCode::Timeout
    } else if error.is_builder() {
        EgressErrorCode::InvalidRequest
    } else {
        EgressErrorCode::ConnectionFailed
    };
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    EgressError::new(code, message)
}

/// Headers a plugin may not set: they would let it address another virtual
/// host than the allowlisted URL names, or break HTTP framing.
fn is_host_controlled(name: &str) -> bool {
    const HOST_CONTROLLED: &[&str] = &[
        "host",
        "connection",
        "content-length",
        "transfer-encoding",
        "te",
        "upgrade",
        "keep-alive",
        "forwarded",
    ];
    let name = name.to_ascii_lowercase();
    HOST_CONTROLLED.contains(&name.as_str()) || name.starts_with("proxy-") || name.starts_with("x-forwarded-")
}

/// Resolves host names and drops non-public addresses unless a grant names the host.
struct GuardedResolver {
    private_ok: Vec<OriginPattern>,
}

#[derive(Debug)]
struct PrivateAddressDenied(String);

impl fmt::Display for PrivateAddressDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves only to private or loopback addresses; only an admin grant can open it",
            self.0
        )
    }
}

impl std::error::Error for PrivateAddressDenied {}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let private_ok = self.private_ok.iter().any(|p| p.matches_host(&host));
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| private_ok || is_public(addr.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(PrivateAddressDenied(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// An HTTP client for the host's own requests to admin-set URLs (account
/// webhooks): no proxy, no redirects, and unless `allow_private`, a host name
/// that resolves only to non-public addresses is refused at connect time by
/// the same resolver as plugins' (IP literals: check them with [`is_public`]).
pub fn host_client(allow_private: bool, timeout: Duration) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .timeout(timeout)
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")));
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(GuardedResolver { private_ok: vec![] }));
    }
    builder
        .build()
        .expect("a reqwest client with rustls and a custom resolver always builds")
}

/// The refusal's message when `error` is the resolver refusing a private
/// address (not worth retrying).
pub fn private_refusal(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(denied) = e.downcast_ref::<PrivateAddressDenied>() {
            return Some(denied.to_string());
        }
        source = e.source();
    }
    None
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            let embedded_v4 = |hi: u16, lo: u16| {
                IpAddr::V4(std::net::Ipv4Addr::new(
                    (hi >> 8) as u8,
                    hi as u8,
                    (lo >> 8) as u8,
                    lo as u8,
                ))
            };
            // Addresses that carry an IPv4 address: judge that one.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            if seg[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
                return is_public(embedded_v4(seg[6], seg[7])); // IPv4-compatible ::a.b.c.d
            }
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public(embedded_v4(seg[6], seg[7])); // NAT64
            }
            if seg[0] == 0x2002 {
                return is_public(embedded_v4(seg[1], seg[2])); // 6to4
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] & 0xffc0) == 0xfec0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(declared: &[&str], granted: &[&str]) -> EgressPolicy {
        let declared = declared
            .iter()
            .map(|d| OriginPattern::parse(d).unwrap())
            .collect();
        let granted: Vec<String> = granted.iter().map(|g| g.to_string()).collect();
        EgressPolicy::new("test", declared, &granted, EgressLimits::default())
    }

    fn check(p: &EgressPolicy, url: &str) -> Result<(), EgressErrorCode> {
        p.check(&Url::parse(url).unwrap()).map(|_| ()).map_err(|e| e.code)
    }

    #[test]
    fn origin_patterns_parse_and_refuse_paths() {
        assert_eq!(
            OriginPattern::parse("https://api.example.com")
                .unwrap()
                .to_string(),
            "https://api.example.com"
        );
        assert_eq!(
            OriginPattern::parse("http://127.0.0.1:9000/")
                .unwrap()
                .to_string(),
            "http://127.0.0.1:9000"
        );
        assert!(OriginPattern::parse("https://api.example.com/v1").is_err());
        assert!(OriginPattern::parse("ftp://example.com").is_err());
        assert!(OriginPattern::parse("example.com").is_err());
        assert!(OriginPattern::parse("https://user@example.com").is_err());
        assert!(OriginPattern::parse("https://*.10.0.0.1").is_err());
    }

    #[test]
    fn declared_origins_match_exactly_including_port_and_scheme() {
        let p = policy(&["https://api.example.com"], &[]);
        assert_eq!(check(&p, "https://api.example.com/x?y=1"), Ok(()));
        assert_eq!(check(&p, "https://API.example.com/"), Ok(()));
        assert_eq!(check(&p, "http://api.example.com/"), Err(EgressErrorCode::Denied));
        assert_eq!(
            check(&p, "https://api.example.com:8443/"),
            Err(EgressErrorCode::Denied)
        );
        assert_eq!(
            check(&p, "https://evil-api.example.com/"),
            Err(EgressErrorCode::Denied)
        );
        assert_eq!(
            check(&p, "https://api.example.com.evil.net/"),
            Err(EgressErrorCode::Denied)
        );
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let p = policy(&["https://*.cdn.example.com"], &[]);
        assert_eq!(check(&p, "https://a.cdn.example.com/img"), Ok(()));
        assert_eq!(check(&p, "https://a.b.cdn.example.com/img"), Ok(()));
        assert_eq!(
            check(&p, "https://cdn.example.com/img"),
            Err(EgressErrorCode::Denied)
        );
        assert_eq!(
            check(&p, "https://xcdn.example.com/img"),
            Err(EgressErrorCode::Denied)
        );
    }

    #[test]
    fn private_literals_need_a_grant_even_when_declared() {
        let p = policy(&["http://127.0.0.1:9000", "http://10.1.2.3"], &[]);
        assert_eq!(check(&p, "http://127.0.0.1:9000/"), Err(EgressErrorCode::Denied));
        assert_eq!(check(&p, "http://10.1.2.3/"), Err(EgressErrorCode::Denied));
        let p = policy(&[], &["http://127.0.0.1:9000"]);
        assert_eq!(check(&p, "http://127.0.0.1:9000/x"), Ok(()));
        assert_eq!(check(&p, "http://127.0.0.1:9001/x"), Err(EgressErrorCode::Denied));
    }

    #[test]
    fn public_address_classification() {
        for private in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(
                !is_public(private.parse().unwrap()),
                "{private} must not be public"
            );
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public} is public");
        }
    }

    #[test]
    fn plugins_cannot_set_framing_or_virtual_host_headers() {
        for name in [
            "Host",
            "content-length",
            "Transfer-Encoding",
            "Proxy-Authorization",
            "X-Forwarded-For",
        ] {
            assert!(is_host_controlled(name), "{name}");
        }
        for name in ["authorization", "content-type", "x-signature"] {
            assert!(!is_host_controlled(name), "{name}");
        }
    }

    /// Finding 1 of the hostile-plugin review: a grant of one port on a name
    /// opened the name's private address on every declared port. Only the
    /// granted origin reaches it now; the declared one is refused at connect.
    #[tokio::test]
    async fn a_grant_opens_its_origin_not_the_host_name() {
        let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (a, b) = (
            open.local_addr().unwrap().port(),
            other.local_addr().unwrap().port(),
        );
        for listener in [open, other] {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                while let Ok((mut socket, _)) = listener.accept().await {
                    let mut buf = [0u8; 1024];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                        .await;
                }
            });
        }
        let p = policy(&["http://localhost"], &[&format!("http://localhost:{a}")]);
        let p = EgressPolicy {
            declared: vec![OriginPattern::parse(&format!("http://localhost:{b}")).unwrap()],
            ..p
        };
        let send = |port: u16| {
            let request = EgressRequest {
                method: "GET".into(),
                url: format!("http://localhost:{port}/"),
                headers: vec![],
                body: vec![],
            };
            let mut call = CallState {
                plugin_id: "test".into(),
                egress: Arc::new(policy(&[], &[])),
                http_requests: 0,
                log_records: 0,
                deadline: Instant::now() + Duration::from_secs(5),
            };
            let p = &p;
            async move { p.send(&mut call, request).await }
        };
        assert_eq!(send(a).await.map(|r| r.status).map_err(|e| e.message), Ok(200));
        let refused = send(b)
            .await
            .err()
            .expect("the declared, ungranted origin is refused");
        assert_eq!(refused.code, EgressErrorCode::Denied, "{}", refused.message);
    }

    #[tokio::test]
    async fn resolver_refuses_names_that_resolve_to_loopback() {
        let resolver = GuardedResolver { private_ok: vec![] };
        let err = resolver
            .resolve("localhost".parse::<Name>().unwrap())
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("private or loopback"), "{err}");
        let resolver = GuardedResolver {
            private_ok: vec![OriginPattern::parse("http://localhost:1").unwrap()],
        };
        assert!(
            resolver
                .resolve("localhost".parse::<Name>().unwrap())
                .await
                .is_ok()
        );
    }
}
