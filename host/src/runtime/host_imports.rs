//! The contract's imports as the newest version binds them (`wit::latest`),
//! adapted onto the host capabilities in `caps`. Every contract version links
//! these same implementations (older versions map their imports onto
//! latest's). Outer `wasmtime::Result` = trap (host bug); inner `Result` = an
//! error the plugin sees and handles.

use super::call::StoreData;
use super::wit::latest::{clock, http_client, log, types};
use crate::caps;
use crate::caps::egress::{EgressErrorCode, EgressRequest};

impl types::Host for StoreData {}

impl http_client::Host for StoreData {
    async fn send(
        &mut self,
        req: http_client::Request,
    ) -> wasmtime::Result<Result<http_client::Response, http_client::Error>> {
        let request = EgressRequest {
            method: req.method,
            url: req.url,
            headers: req.headers.into_iter().map(|h| (h.name, h.value)).collect(),
            body: req.body,
        };
        let egress = self.call.egress.clone();
        let outcome = egress.send(&mut self.call, request).await;
        if let Err(e) = &outcome {
            tracing::info!(plugin = %self.call.plugin_id, code = ?e.code, "outbound request refused or failed: {}", e.message);
        }
        Ok(outcome
            .map(|r| http_client::Response {
                status: r.status,
                headers: r
                    .headers
                    .into_iter()
                    .map(|(name, value)| types::Header { name, value })
                    .collect(),
                body: r.body,
            })
            .map_err(|e| http_client::Error {
                code: match e.code {
                    EgressErrorCode::Denied => http_client::ErrorCode::Denied,
                    EgressErrorCode::InvalidRequest => http_client::ErrorCode::InvalidRequest,
                    EgressErrorCode::ConnectionFailed => http_client::ErrorCode::ConnectionFailed,
                    EgressErrorCode::Timeout => http_client::ErrorCode::Timeout,
                    EgressErrorCode::TooLarge => http_client::ErrorCode::TooLarge,
                    EgressErrorCode::LimitExceeded => http_client::ErrorCode::LimitExceeded,
                },
                message: e.message,
            }))
    }
}

impl log::Host for StoreData {
    async fn write(
        &mut self,
        level: log::Level,
        message: String,
        fields: Vec<types::KeyValue>,
    ) -> wasmtime::Result<()> {
        let level = match level {
            log::Level::Trace => caps::log::Level::Trace,
            log::Level::Debug => caps::log::Level::Debug,
            log::Level::Info => caps::log::Level::Info,
            log::Level::Warn => caps::log::Level::Warn,
            log::Level::Error => caps::log::Level::Error,
        };
        let fields: Vec<(String, String)> = fields.into_iter().map(|kv| (kv.key, kv.value)).collect();
        caps::log::write(&mut self.call, level, &message, &fields);
        Ok(())
    }
}

impl clock::Host for StoreData {
    async fn now_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(caps::clock::now_ms())
    }
}
