//! The provider endpoint the conformance kit's sends talk to: a loopback
//! HTTP server that answers from the routes the running fixture scripts and
//! records every request it gets. Fixtures name it `{{mock_url}}`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One scripted answer: a request with this method and path gets it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockRoute {
    /// Method to answer (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Path to answer, without the query (e.g. `/v1/messages`).
    pub path: String,
    /// Status code (200 when absent).
    #[serde(default = "ok")]
    pub status: u16,
    /// Response headers.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// A JSON body (sent with `content-type: application/json`).
    #[serde(default)]
    pub json: Option<Value>,
    /// A text body.
    #[serde(default)]
    pub body: Option<String>,
}

fn ok() -> u16 {
    200
}

/// A request the mock received.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query (may be empty).
    pub query: String,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    #[serde(skip)]
    pub body: Vec<u8>,
}

#[derive(Default)]
struct Script {
    routes: Vec<MockRoute>,
    received: Vec<RecordedRequest>,
}

/// A running mock provider; stops when dropped.
pub struct MockProvider {
    origin: String,
    script: Arc<Mutex<Script>>,
    server: tokio::task::JoinHandle<()>,
}

impl MockProvider {
    /// Starts one on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let script = Arc::new(Mutex::new(Script::default()));
        let shared = script.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let script = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| answer(script.clone(), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            origin,
            script,
            server,
        })
    }

    /// `http://127.0.0.1:PORT`: what `{{mock_url}}` stands for.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Answers from `routes` from now on and forgets what was received.
    pub fn script(&self, routes: Vec<MockRoute>) {
        let mut script = self.script.lock().expect("mock script lock");
        script.routes = routes;
        script.received.clear();
    }

    /// The requests received since the last [`MockProvider::script`].
    pub fn received(&self) -> Vec<RecordedRequest> {
        self.script.lock().expect("mock script lock").received.clone()
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(
    script: Arc<Mutex<Script>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let recorded = RecordedRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let route = {
        let mut script = script.lock().expect("mock script lock");
        let route = script
            .routes
            .iter()
            .find(|r| {
                r.path == recorded.path
                    && r.method
                        .as_deref()
                        .is_none_or(|m| m.eq_ignore_ascii_case(&recorded.method))
            })
            .cloned();
        script.received.push(recorded.clone());
        route
    };
    let Some(route) = route else {
        let message = serde_json::json!({
            "error": format!(
                "the fixture scripts no answer for {} {} (add it to \"mock\")",
                recorded.method, recorded.path
            )
        });
        return Ok(respond(404, &[], Some("application/json"), message.to_string()));
    };
    let (content_type, body) = match (&route.json, &route.body) {
        (Some(json), _) => (Some("application/json"), json.to_string()),
        (None, Some(text)) => (None, text.clone()),
        (None, None) => (None, String::new()),
    };
    Ok(respond(route.status, &route.headers, content_type, body))
}

fn respond(
    status: u16,
    headers: &[(String, String)],
    content_type: Option<&str>,
    body: String,
) -> Response<Full<Bytes>> {
    let mut builder =
        Response::builder().status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Full::new(Bytes::from(body))).unwrap_or_else(|e| {
        let mut response = Response::new(Full::new(Bytes::from(format!("bad mock route: {e}"))));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        response
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_scripted_routes_and_records_requests() {
        let mock = MockProvider::start().await.unwrap();
        mock.script(vec![MockRoute {
            method: Some("POST".into()),
            path: "/v1/messages".into(),
            status: 201,
            headers: vec![("x-request-id".into(), "r-1".into())],
            json: Some(serde_json::json!({"id": "out-1"})),
            body: None,
        }]);
        let http = reqwest::Client::new();
        let answered = http
            .post(format!("{}/v1/messages?x=1", mock.origin()))
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(answered.status(), 201);
        assert_eq!(answered.headers()["x-request-id"], "r-1");
        assert_eq!(answered.text().await.unwrap(), r#"{"id":"out-1"}"#);
        let missing = http.get(format!("{}/nope", mock.origin())).send().await.unwrap();
        assert_eq!(missing.status(), 404);
        let received = mock.received();
        assert_eq!(received.len(), 2);
        assert_eq!(
            (received[0].method.as_str(), received[0].path.as_str()),
            ("POST", "/v1/messages")
        );
        assert_eq!(
            (received[0].query.as_str(), received[0].body.as_slice()),
            ("x=1", &b"hello"[..])
        );
        mock.script(vec![]);
        assert!(mock.received().is_empty());
    }
}
