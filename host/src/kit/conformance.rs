//! The conformance run of `switchboard plugin test`: one component, loaded
//! exactly as the server loads it, against its own fixtures and the host's
//! limits. Each check is a named case that passes or fails with readable
//! details:
//!
//! 1. `load`: `plugin_host::admin::inspect`, the server's install check (header,
//!    compile, link against the host's imports, exported contract,
//!    `describe()` with no network, manifest rules, contract version);
//!    `describe/pure`: a second `describe()` answers the same manifest;
//! 2. `webhook/<case>`: verify-webhook, then (when accepted, as the server
//!    does) parse-event, against the fixture's expectations;
//! 3. `send/<case>`: send-message with outbound HTTP reaching only the kit's
//!    mock provider, which answers as the fixture scripts; the result and the
//!    requests it received are compared;
//! 4. `limits/*`: bodies as large as the server accepts, as JSON and as
//!    arbitrary bytes, through verify-webhook and parse-event: any answer
//!    passes, a crash, timeout or memory-limit breach fails.
//!
//! Every call runs under the host's call limits (the `--plugin-timeout-ms`
//! and `--plugin-memory-mib` defaults of a server), in a fresh store, as on
//! a server.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use super::fixtures::{
    ExpectedRequest, ExpectedVerification, FixtureFile, Fixtures, SendFixture, WebhookFixture,
};
use super::json_diff::{Match, differences};
use super::mock::{MockProvider, RecordedRequest};
use crate::caps::egress::{EgressLimits, EgressPolicy};
use crate::contract::{ErrorCode, IncomingRequest, Manifest, Settings, Verification};
use crate::plugin_host::admin;
use crate::runtime::{CallLimits, PluginError, PluginInstance, Runtime};

/// Settings of a run.
#[derive(Debug, Clone, Copy)]
pub struct KitConfig {
    /// Per-call caps on outbound HTTP (the server's).
    pub egress: EgressLimits,
    /// The largest webhook body the server accepts: the size of the
    /// `limits/*` bodies.
    pub webhook_max_bytes: usize,
}

/// The plugin under test, once it loaded.
#[derive(Debug, Clone, Serialize)]
pub struct PluginSummary {
    /// Manifest id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// Contract version.
    pub contract_version: String,
    /// sha256 of the component.
    pub sha256: String,
    /// Deadline of each call, ms.
    pub timeout_ms: u64,
    /// Memory cap of each call, bytes.
    pub memory_limit_bytes: u64,
    /// The mock provider's origin (`{{mock_url}}`).
    pub mock_url: String,
}

/// The outcome of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseOutcome {
    /// `group/name`, e.g. `webhook/text-message`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Time spent in plugin calls, ms.
    pub ms: f64,
    /// One line of facts worth showing even on success (e.g. peak memory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The fixture's description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Why it failed, one finding per line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// What a run reports as it goes.
pub enum Progress<'a> {
    /// The component loaded; cases follow.
    Loaded(&'a PluginSummary),
    /// A case finished.
    Case(&'a CaseOutcome),
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The plugin, when it loaded.
    pub plugin: Option<PluginSummary>,
    /// Every case, in order.
    pub cases: Vec<CaseOutcome>,
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
}

/// Runs every case against the component `bytes`. Fails only when the kit
/// itself cannot run (the mock provider cannot listen); everything the
/// plugin or a fixture gets wrong is a failed case.
pub async fn run(
    runtime: &Arc<Runtime>,
    bytes: Vec<u8>,
    fixtures: Option<&Fixtures>,
    config: KitConfig,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> std::io::Result<Report> {
    let mock = MockProvider::start().await?;
    let mut report = Report {
        plugin: None,
        cases: Vec::new(),
        passed: 0,
        failed: 0,
    };
    let mut record = |outcome: CaseOutcome, progress: &mut (dyn FnMut(Progress<'_>) + Send)| {
        progress(Progress::Case(&outcome));
        if outcome.passed {
            report.passed += 1;
        } else {
            report.failed += 1;
        }
        report.cases.push(outcome);
    };

    let (load, subject) = load(runtime, bytes, &mock, config).await;
    record(load, progress);
    let Some(subject) = subject else {
        return Ok(report);
    };
    let summary = PluginSummary {
        id: subject.manifest.id.clone(),
        name: subject.manifest.name.clone(),
        version: subject.manifest.version.clone(),
        contract_version: subject.manifest.contract_version.clone(),
        sha256: subject.sha256.clone(),
        timeout_ms: subject.limits.timeout.as_millis() as u64,
        memory_limit_bytes: subject.limits.memory_bytes as u64,
        mock_url: mock.origin().to_owned(),
    };
    progress(Progress::Loaded(&summary));
    record(subject.describe_is_pure().await, progress);
    if let Some(fixtures) = fixtures {
        for file in &fixtures.webhooks {
            record(subject.webhook(file, mock.origin()).await, progress);
        }
        for file in &fixtures.sends {
            record(subject.send(file, &mock).await, progress);
        }
    }
    let settings = subject.limit_settings(fixtures, mock.origin());
    for (name, body) in [
        ("limits/largest-json-body", large_json(config.webhook_max_bytes)),
        (
            "limits/largest-binary-body",
            large_binary(config.webhook_max_bytes),
        ),
    ] {
        record(subject.survives(name, &settings, body).await, progress);
    }
    report.plugin = Some(summary);
    Ok(report)
}

/// A loaded component and what it said about itself.
struct Subject {
    instance: PluginInstance,
    manifest: Manifest,
    sha256: String,
    limits: CallLimits,
    webhook_max_bytes: usize,
}

/// A case being run: its time in plugin calls and its findings.
struct Case {
    outcome: CaseOutcome,
}

impl Case {
    fn new(name: String) -> Self {
        Self {
            outcome: CaseOutcome {
                name,
                passed: true,
                ms: 0.0,
                note: None,
                description: None,
                details: Vec::new(),
            },
        }
    }

    /// Runs one plugin call, adding its time to the case's.
    async fn call<T>(&mut self, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let out = call.await;
        self.outcome.ms += started.elapsed().as_secs_f64() * 1000.0;
        out
    }

    fn fail(&mut self, detail: impl Into<String>) {
        self.outcome.passed = false;
        self.outcome.details.push(detail.into());
    }

    fn fail_all(&mut self, details: Vec<String>) {
        if !details.is_empty() {
            self.outcome.passed = false;
            self.outcome.details.extend(details);
        }
    }

    fn done(self) -> CaseOutcome {
        self.outcome
    }
}

/// Loads the component the way the server's install does, then prepares
/// calls into it under the host's default limits, with outbound HTTP
/// reaching only the mock provider.
async fn load(
    runtime: &Arc<Runtime>,
    bytes: Vec<u8>,
    mock: &MockProvider,
    config: KitConfig,
) -> (CaseOutcome, Option<Subject>) {
    let mut case = Case::new("load".into());
    let inspected = case.call(admin::inspect(runtime, bytes.clone())).await;
    let inspected = match inspected {
        Ok(inspected) => inspected,
        Err(e) => {
            case.fail(format!("the server would refuse to install it: {e}"));
            return (case.done(), None);
        }
    };
    // The same bytes again: from the compile cache when there is one.
    let compiled = match case.call(runtime.compile(Arc::new(bytes))).await {
        Ok(compiled) => compiled,
        Err(e) => {
            case.fail(format!("cannot load it for calls: {e}"));
            return (case.done(), None);
        }
    };
    let manifest = inspected.manifest;
    let limits = runtime.config().default_limits;
    let egress = Arc::new(EgressPolicy::new(
        &manifest.id,
        Vec::new(),
        &[mock.origin().to_owned()],
        config.egress,
    ));
    let instance = runtime.instance(&manifest.id, compiled, limits, egress);
    case.outcome.note = Some(format!(
        "{} {}, contract {}, {} KiB",
        manifest.id,
        manifest.version,
        manifest.contract_version,
        inspected.bytes.len().div_ceil(1024)
    ));
    let subject = Subject {
        instance,
        manifest,
        sha256: inspected.sha256,
        limits,
        webhook_max_bytes: config.webhook_max_bytes,
    };
    (case.done(), Some(subject))
}

impl Subject {
    /// `describe()` must be pure: the same manifest every time.
    async fn describe_is_pure(&self) -> CaseOutcome {
        let mut case = Case::new("describe/pure".into());
        match case.call(self.instance.describe()).await {
            Ok(again) => case.fail_all(differences(
                "manifest",
                &to_json(&self.manifest),
                &to_json(&again),
                Match::Exact,
            )),
            Err(e) => case.fail(crashed("describe", &e, &self.limits)),
        }
        case.done()
    }

    /// One webhook fixture through verify-webhook and parse-event.
    async fn webhook(&self, file: &FixtureFile, mock_origin: &str) -> CaseOutcome {
        let mut case = Case::new(format!("webhook/{}", file.name));
        let fixture: WebhookFixture = match file.parse(mock_origin) {
            Ok(fixture) => fixture,
            Err(e) => {
                case.fail(e);
                return case.done();
            }
        };
        case.outcome.description = fixture.description.clone();
        let expect = &fixture.expect;
        if let Err(e) = check_webhook_expect(&fixture) {
            case.fail(e);
            return case.done();
        }
        let prepared = fixture
            .request
            .to_incoming(&self.manifest.id)
            .and_then(|request| {
                super::fixtures::settings_for(&self.manifest, &fixture.settings).map(|s| (s, request))
            });
        let (settings, request) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                case.fail(e);
                return case.done();
            }
        };
        if request.body.len() > self.webhook_max_bytes {
            case.fail(format!(
                "the body has {} bytes: the server answers 413 to bodies over {} bytes \
                 (SWITCHBOARD_WEBHOOK_MAX_BYTES) without calling the plugin",
                request.body.len(),
                self.webhook_max_bytes
            ));
            return case.done();
        }
        let verification = match case.call(self.instance.verify_webhook(&settings, &request)).await {
            Ok(verification) => verification,
            Err(e) => {
                case.fail(crashed("verify-webhook", &e, &self.limits));
                return case.done();
            }
        };
        match (expect.verification, &verification) {
            (ExpectedVerification::Accepted, Verification::Accepted) => {}
            (ExpectedVerification::Rejected, Verification::Rejected(reason)) => {
                if let Some(want) = expect.reason.as_deref().filter(|want| !reason.contains(want)) {
                    case.fail(format!(
                        "rejected for {reason:?}, but the fixture expects a reason containing {want:?}"
                    ));
                }
                return case.done();
            }
            (ExpectedVerification::Challenge, Verification::Challenge(response)) => {
                if let Some(want) = &expect.challenge {
                    case.fail_all(challenge_differences(want, response));
                }
                return case.done();
            }
            (want, got) => {
                case.fail(format!(
                    "verification: expected {want}, got {}",
                    verification_text(got)
                ));
                return case.done();
            }
        }
        // Accepted: the server stores the request and parses it.
        let called_at = crate::caps::clock::now_ms();
        let parsed = case.call(self.instance.parse_event(&settings, &request)).await;
        match (parsed, &expect.events, &expect.error) {
            (Ok(events), Some(want), _) => {
                let got = to_json(&events);
                let found = differences("events", want, &got, Match::Exact);
                if !found.is_empty() {
                    case.fail_all(found);
                    case.fail(format!("the plugin answered:\n{}", pretty(&events)));
                }
            }
            (Ok(events), None, Some(want)) => case.fail(format!(
                "expected the error {}, but parse-event answered events:\n{}",
                super::json_diff::short(want),
                pretty(&events)
            )),
            (Ok(events), None, None) => case.fail(format!(
                "the fixture has no expect.events; parse-event answered (copy it into the fixture once it is right; \
                 times read from the clock are shown as \"{}\", which matches any value):\n{}",
                super::json_diff::ANY,
                pretty(&without_clock_times(
                    to_json(&events),
                    called_at,
                    crate::caps::clock::now_ms()
                ))
            )),
            (Err(PluginError::Channel { error, .. }), _, Some(want)) => {
                case.fail_all(differences("error", want, &to_json(&error), Match::Subset));
            }
            (Err(PluginError::Channel { error, .. }), _, None) => {
                case.fail(format!("parse-event failed: {error}"));
            }
            (Err(e), _, _) => case.fail(crashed("parse-event", &e, &self.limits)),
        }
        case.done()
    }

    /// One send fixture through send-message, against the mock provider.
    async fn send(&self, file: &FixtureFile, mock: &MockProvider) -> CaseOutcome {
        let mut case = Case::new(format!("send/{}", file.name));
        let fixture: SendFixture = match file.parse(mock.origin()) {
            Ok(fixture) => fixture,
            Err(e) => {
                case.fail(e);
                return case.done();
            }
        };
        case.outcome.description = fixture.description.clone();
        let expect = &fixture.expect;
        if expect.ok.is_some() == expect.error.is_some() {
            case.fail(format!(
                "{}: expect needs exactly one of \"ok\" and \"error\"",
                file.path.display()
            ));
            return case.done();
        }
        let (context, message) = match fixture.to_call(&file.name, &self.manifest) {
            Ok(call) => call,
            Err(e) => {
                case.fail(e);
                return case.done();
            }
        };
        mock.script(fixture.mock.clone());
        let sent = case.call(self.instance.send_message(&context, &message)).await;
        let received = mock.received();
        match (sent, &expect.ok, &expect.error) {
            (Ok(sent), Some(want), _) => {
                case.fail_all(differences("ok", want, &to_json(&sent), Match::Exact));
            }
            (Ok(sent), None, _) => case.fail(format!(
                "expected an error, but send-message answered {}",
                to_json(&sent)
            )),
            (Err(PluginError::Channel { error, .. }), Some(_), _) => {
                case.fail(format!("send-message failed: {error}"));
                if error.code == ErrorCode::Network {
                    case.fail(format!(
                        "(the kit lets the plugin reach only its mock provider, {}: point the plugin's API \
                         setting at \"{{{{mock_url}}}}\" in the fixture's settings)",
                        mock.origin()
                    ));
                }
            }
            (Err(PluginError::Channel { error, .. }), None, Some(want)) => {
                case.fail_all(differences("error", want, &to_json(&error), Match::Subset));
            }
            (Err(e), _, _) => case.fail(crashed("send-message", &e, &self.limits)),
        }
        if let Some(want) = &expect.requests {
            case.fail_all(request_differences(want, &received));
        }
        case.fail_all(empty_credentials(&received));
        case.done()
    }

    /// Settings for the `limits/*` cases: the manifest's defaults with the
    /// first webhook fixture's values, so that verification runs as usual.
    fn limit_settings(&self, fixtures: Option<&Fixtures>, mock_origin: &str) -> Settings {
        let values = fixtures
            .and_then(|f| f.webhooks.first())
            .and_then(|file| file.parse::<WebhookFixture>(mock_origin).ok())
            .map(|fixture| fixture.settings)
            .unwrap_or_default();
        super::fixtures::settings_for(&self.manifest, &values)
            .or_else(|_| super::fixtures::settings_for(&self.manifest, &Default::default()))
            .unwrap_or_default()
    }

    /// A body as large as the server accepts must be answered, in time and
    /// within memory, by verify-webhook and by parse-event (called directly
    /// too: a genuine provider may send that much).
    async fn survives(&self, name: &str, settings: &Settings, body: Vec<u8>) -> CaseOutcome {
        let mut case = Case::new(name.to_owned());
        let size = body.len();
        let request = IncomingRequest {
            method: "POST".into(),
            path: format!("/webhooks/{}", self.manifest.id),
            query: String::new(),
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        };
        let mut peak = 0;
        let verified = case.call(self.instance.verify_webhook(settings, &request)).await;
        peak = peak.max(self.instance.last_peak_memory());
        if let Err(e) = verified {
            case.fail(crashed("verify-webhook", &e, &self.limits));
        }
        let parsed = case.call(self.instance.parse_event(settings, &request)).await;
        peak = peak.max(self.instance.last_peak_memory());
        match parsed {
            Ok(_) | Err(PluginError::Channel { .. }) => {}
            Err(e) => case.fail(crashed("parse-event", &e, &self.limits)),
        }
        case.outcome.note = Some(format!(
            "{} body, peak memory {} of {}",
            mib(size),
            mib(peak),
            mib(self.limits.memory_bytes)
        ));
        case.done()
    }
}

fn check_webhook_expect(fixture: &WebhookFixture) -> Result<(), String> {
    let expect = &fixture.expect;
    let accepted = expect.verification == ExpectedVerification::Accepted;
    if !accepted && (expect.events.is_some() || expect.error.is_some()) {
        return Err(format!(
            "expect.events and expect.error apply only when the verification is accepted, not {}",
            expect.verification
        ));
    }
    if expect.events.is_some() && expect.error.is_some() {
        return Err("expect needs at most one of \"events\" and \"error\"".into());
    }
    if expect.reason.is_some() && expect.verification != ExpectedVerification::Rejected {
        return Err("expect.reason applies only to a rejected verification".into());
    }
    if expect.challenge.is_some() && expect.verification != ExpectedVerification::Challenge {
        return Err("expect.challenge applies only to a challenge verification".into());
    }
    Ok(())
}

fn challenge_differences(
    want: &super::fixtures::ChallengeExpect,
    got: &crate::contract::OutgoingResponse,
) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(status) = want.status.filter(|s| *s != got.status) {
        found.push(format!("challenge.status: expected {status}, got {}", got.status));
    }
    let body = String::from_utf8_lossy(&got.body);
    if let Some(text) = want.body.as_deref().filter(|text| *text != body) {
        found.push(format!("challenge.body: expected {text:?}, got {body:?}"));
    }
    for (name, value) in &want.headers {
        if !got
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(name) && v == value)
        {
            found.push(format!(
                "challenge.headers: expected {name}: {value}, got {:?}",
                got.headers
            ));
        }
    }
    found
}

fn request_differences(want: &[ExpectedRequest], got: &[RecordedRequest]) -> Vec<String> {
    let mut found = Vec::new();
    if want.len() != got.len() {
        found.push(format!(
            "requests: expected {} request(s) to the mock provider, it received {}{}",
            want.len(),
            got.len(),
            got.iter()
                .map(|r| format!("\n  {} {}", r.method, r.path))
                .collect::<String>()
        ));
    }
    for (n, (want, got)) in want.iter().zip(got).enumerate() {
        let at = format!("requests[{n}]");
        if !want.method.eq_ignore_ascii_case(&got.method) || want.path != got.path {
            found.push(format!(
                "{at}: expected {} {}, got {} {}",
                want.method, want.path, got.method, got.path
            ));
        }
        if let Some(query) = want.query.as_deref().filter(|q| *q != got.query) {
            found.push(format!("{at}.query: expected {query:?}, got {:?}", got.query));
        }
        for (name, value) in &want.headers {
            let given = got
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str());
            if given != Some(value.as_str()) {
                found.push(format!(
                    "{at}.headers.{name}: expected {value:?}, got {}",
                    given.map_or("no such header".to_owned(), |v| format!("{v:?}"))
                ));
            }
        }
        if let Some(json) = &want.json {
            match serde_json::from_slice::<Value>(&got.body) {
                Ok(body) => found.extend(differences(&format!("{at}.json"), json, &body, Match::Exact)),
                Err(e) => found.push(format!(
                    "{at}.json: the body is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(&got.body)
                )),
            }
        }
        let body = String::from_utf8_lossy(&got.body);
        if let Some(text) = want.body.as_deref().filter(|text| *text != body) {
            found.push(format!("{at}.body: expected {text:?}, got {body:?}"));
        }
    }
    found
}

/// `value` with every `…_ms` number that falls in the time of the call
/// (read from the clock: the plugin had no such time in its input) replaced
/// with `{{any}}`, so a suggested fixture still matches on the next run.
fn without_clock_times(value: Value, from_ms: u64, to_ms: u64) -> Value {
    // Clock reads may round; a minute either side is still "now".
    let now = from_ms.saturating_sub(60_000)..=to_ms + 60_000;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let clock = key.ends_with("_ms") && value.as_u64().is_some_and(|ms| now.contains(&ms));
                    let value = match clock {
                        true => Value::String(super::json_diff::ANY.into()),
                        false => without_clock_times(value, from_ms, to_ms),
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| without_clock_times(v, from_ms, to_ms))
                .collect(),
        ),
        other => other,
    }
}

/// Headers that carry a credential.
fn is_credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "authorization" || name.contains("token") || name.contains("api-key") || name.contains("apikey")
}

/// A request that carries a credential header with nothing in it
/// (`Authorization: Bearer `) is never right: on a live server it is what a
/// plugin sends when it reads a credential that is not there.
fn empty_credentials(received: &[RecordedRequest]) -> Vec<String> {
    let mut found = Vec::new();
    for (n, request) in received.iter().enumerate() {
        for (name, value) in &request.headers {
            let value = value.trim();
            // `Bearer `, `Basic `, `token ` schemes with no credential after them.
            let credential = match value.split_once(' ') {
                Some((_, rest)) => rest.trim(),
                None if ["bearer", "basic", "token"]
                    .iter()
                    .any(|s| value.eq_ignore_ascii_case(s)) =>
                {
                    ""
                }
                None => value,
            };
            if is_credential_header(name) && credential.is_empty() {
                found.push(format!(
                    "requests[{n}].headers.{name}: the credential is empty ({value:?}); on a live server an \
                     inbox without an authorization step has no credentials: read the token from a secret setting"
                ));
            }
        }
    }
    found
}

/// A call that did not come back with an answer: how the server would see it.
fn crashed(verb: &str, error: &PluginError, limits: &CallLimits) -> String {
    match error {
        PluginError::Timeout { .. } => format!(
            "{verb} ran past the {} ms deadline and was stopped (the server stops it the same way)",
            limits.timeout.as_millis()
        ),
        PluginError::MemoryLimit { .. } => format!(
            "{verb} tried to grow memory past the {} cap and was stopped",
            mib(limits.memory_bytes)
        ),
        PluginError::Trap { message, .. } => {
            // The frames of a stripped component name no functions: leave them out.
            let frame = |line: &&str| {
                let line = line.trim_start();
                line.starts_with(|c: char| c.is_ascii_digit()) && line.contains(": ")
            };
            let reason = message
                .lines()
                .filter(|l| !frame(l))
                .map(|l| format!("\n    {l}"))
                .collect::<String>();
            let reason = reason
                .trim_end()
                .trim_end_matches("at wasm backtrace:")
                .trim_end();
            format!("{verb} crashed (the server fails the call the same way):{reason}")
        }
        PluginError::Channel { error, .. } => format!("{verb} failed: {error}"),
        other => format!("{verb}: {other}"),
    }
}

fn verification_text(verification: &Verification) -> String {
    match verification {
        Verification::Accepted => "accepted".into(),
        Verification::Rejected(reason) => format!("rejected ({reason})"),
        Verification::Challenge(response) => format!(
            "challenge (status {}, body {:?})",
            response.status,
            String::from_utf8_lossy(&response.body)
        ),
    }
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Pretty JSON, indented for the details of a case, with fields in the
/// order the host's types declare them (as a fixture would write them).
fn pretty<T: Serialize>(value: &T) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let shown = lines.len().min(60);
    let mut out: String = lines[..shown].iter().map(|l| format!("  {l}\n")).collect();
    if lines.len() > shown {
        out.push_str(&format!("  … {} more lines\n", lines.len() - shown));
    }
    out.trim_end().to_owned()
}

fn mib(bytes: usize) -> String {
    if bytes < 1 << 20 {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
    }
}

/// A JSON object of `size` bytes (a long string in it).
fn large_json(size: usize) -> Vec<u8> {
    let mut body = br#"{"type":"message","padding":""#.to_vec();
    body.resize(size.saturating_sub(2).max(body.len()), b'x');
    body.extend_from_slice(b"\"}");
    body
}

/// `size` arbitrary bytes (not UTF-8, not JSON), the same every run.
fn large_binary(size: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// How long a case took, for people: `0.4 ms`, `12 ms`, `1.2 s`.
pub fn format_ms(ms: f64) -> String {
    match ms {
        ms if ms < 10.0 => format!("{ms:.1} ms"),
        ms if ms < 1000.0 => format!("{ms:.0} ms"),
        ms => format!("{:.2} s", ms / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bodies_have_the_size_asked() {
        let json = large_json(1 << 20);
        assert_eq!(json.len(), 1 << 20);
        assert!(serde_json::from_slice::<Value>(&json).is_ok());
        assert_eq!(large_binary(1000).len(), 1000);
        assert!(std::str::from_utf8(&large_binary(1 << 16)).is_err());
    }

    #[test]
    fn clock_times_become_any() {
        let events = serde_json::json!([
            {"type": "message", "event": {"sent_at_ms": 1_800_000_000_500u64, "message_id": "m-1"}},
            {"type": "status", "event": {"up_to_ms": 1_767_225_600_000u64}}
        ]);
        let shown = without_clock_times(events, 1_800_000_000_000, 1_800_000_001_000);
        assert_eq!(shown[0]["event"]["sent_at_ms"], "{{any}}");
        assert_eq!(shown[0]["event"]["message_id"], "m-1");
        assert_eq!(
            shown[1]["event"]["up_to_ms"], 1_767_225_600_000u64,
            "a time from the input stays"
        );
    }

    #[test]
    fn empty_credentials_are_found() {
        let request = |headers: &[(&str, &str)]| RecordedRequest {
            method: "POST".into(),
            path: "/".into(),
            query: String::new(),
            headers: headers.iter().map(|(n, v)| ((*n).into(), (*v).into())).collect(),
            body: Vec::new(),
        };
        for empty in [
            ("Authorization", "Bearer "),
            ("authorization", "Bearer"),
            ("x-api-key", ""),
            ("x-access-token", " "),
        ] {
            assert_eq!(empty_credentials(&[request(&[empty])]).len(), 1, "{empty:?}");
        }
        let fine = request(&[
            ("authorization", "Bearer t"),
            ("x-api-key", "k"),
            ("content-type", ""),
        ]);
        assert!(empty_credentials(&[fine]).is_empty());
    }

    #[test]
    fn times_read_well() {
        assert_eq!(format_ms(0.44), "0.4 ms");
        assert_eq!(format_ms(212.3), "212 ms");
        assert_eq!(format_ms(1234.0), "1.23 s");
    }
}
