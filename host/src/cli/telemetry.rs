//! Logs to standard error, and traces over OTLP when an endpoint is set.
//!
//! The spans are the ones `#[tracing::instrument]` opens at the boundaries
//! (`webhook.ingest`, `webhook.apply`, `delivery.attempt`,
//! `account_webhook.attempt`, `plugin.<verb>`), at DEBUG so that they cost
//! nothing unless traces are exported (or `RUST_LOG` asks for them); `tracing-opentelemetry`
//! turns them into OpenTelemetry spans, exported over OTLP's HTTP/protobuf
//! binding in batches from a thread of the SDK's own, through reqwest. The endpoint and its
//! options come from the standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT`,
//! or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_SERVICE_NAME`, `OTEL_BSP_*`); without an endpoint no exporter is
//! built and nothing is sent.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Keeps the trace exporter; dropping it sends the spans still batched.
#[must_use = "dropping it stops the trace export"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("warning: sending the last traces failed: {e}");
        }
    }
}

/// How long one batch's POST may take.
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The exporter's HTTP client: reqwest's blocking client. The SDK exports
/// from a thread of its own that runs no async runtime, so a blocking call
/// is what fits there (an async client would need a reactor).
#[derive(Debug)]
struct ExportClient(reqwest::blocking::Client);

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<opentelemetry_http::Response<opentelemetry_http::Bytes>, opentelemetry_http::HttpError> {
        let response = self.0.execute(request.try_into()?)?;
        let status = response.status();
        let body = response.bytes()?;
        Ok(opentelemetry_http::Response::builder()
            .status(status)
            .body(body)?)
    }
}

/// Whether the environment names an OTLP endpoint for traces.
fn endpoint_configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()))
}

/// The tracer provider exporting to the configured endpoint, if any.
fn otlp_provider() -> Result<Option<SdkTracerProvider>, String> {
    if !endpoint_configured() {
        return Ok(None);
    }
    use opentelemetry_otlp::WithHttpConfig as _;
    let client = reqwest::blocking::Client::builder()
        .timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(ExportClient(client))
        .build()
        .map_err(|e| e.to_string())?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("switchboard");
    }
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build(),
    ))
}

/// Sets up logging (`RUST_LOG` filters, default `info`; JSON lines with
/// `--log-json`) and, when an OTLP endpoint is configured, trace export.
/// Call before the async runtime starts, and keep the answer until exit.
pub fn init(log_json: bool) -> Telemetry {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,sqlx=warn,wasmtime=warn,cranelift=warn")
    });
    use std::io::IsTerminal;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let fmt = if log_json { fmt.json().boxed() } else { fmt.boxed() };
    // Each layer filters for itself. The boundary spans are DEBUG, so with
    // the logs at INFO and no exporter they are disabled at their callsites
    // and cost nothing: a plugin call is tens of microseconds, and an
    // enabled span recorded by the log layer added about as much again
    // (BENCHMARKS.md). With an exporter, its layer takes the spans (and the
    // INFO-and-above events inside them) whatever the log filter says.
    let fmt = fmt.with_filter(filter);
    let (provider, failed) = match otlp_provider() {
        Ok(provider) => (provider, None),
        Err(e) => (None, Some(e)),
    };
    let traces = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("switchboard"))
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                meta.target().starts_with("switchboard")
                    && (meta.is_span() || *meta.level() <= tracing::Level::INFO)
            }))
    });
    tracing_subscriber::registry().with(fmt).with(traces).init();
    if let Some(e) = failed {
        tracing::warn!("traces are not exported: the OTLP exporter cannot start: {e}");
    }
    Telemetry { provider }
}
