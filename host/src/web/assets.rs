//! The dashboard's stylesheet and script, embedded in the binary. Each is
//! served under a name carrying a hash of its content, so browsers may keep
//! it for a year (a new build changes the name), and gzipped once per process
//! for the browsers that accept it.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;

/// One embedded file.
struct Asset {
    /// Its plain name (`app.css`).
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const FILES: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("assets/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/app.js"),
    },
];

/// An asset ready to serve.
struct Served {
    hashed: String,
    content_type: &'static str,
    body: &'static str,
    gzip: Vec<u8>,
}

fn served() -> &'static [Served] {
    static SERVED: OnceLock<Vec<Served>> = OnceLock::new();
    SERVED.get_or_init(|| {
        FILES
            .iter()
            .map(|a| {
                let digest = crate::accounts::token_digest(a.body);
                let (stem, ext) = a.name.rsplit_once('.').unwrap_or((a.name, ""));
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                std::io::Write::write_all(&mut gz, a.body.as_bytes()).expect("gzip into memory");
                Served {
                    hashed: format!("{stem}.{}.{ext}", &digest[..12]),
                    content_type: a.content_type,
                    body: a.body,
                    gzip: gz.finish().expect("gzip into memory"),
                }
            })
            .collect()
    })
}

/// The URL of an embedded asset by its plain name (`app.css`).
pub fn url(name: &str) -> String {
    let index = FILES
        .iter()
        .position(|a| a.name == name)
        .expect("an embedded asset");
    format!("/assets/{}", served()[index].hashed)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/assets/{name}", get(asset))
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = served().iter().find(|s| s.hashed == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut response = if gzip {
        let mut r = asset.gzip.clone().into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        asset.body.into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}
