//! CloudWatch metrics in the embedded metric format (EMF): one JSON line per record on standard
//! output, which Lambda puts in the function's log group and CloudWatch turns into metrics
//! (namespace [`NAMESPACE`]). No client, no call, no extra dependency.
//!
//! Records are written only inside Lambda (`AWS_LAMBDA_FUNCTION_NAME` is set): the local server
//! and the CLI keep standard output for people. Tests capture them ([`capture`]).
//!
//! What is recorded: `Requests` and `Latency` by route and status (with the request id, function
//! name and cold start in the same line, which is also the request's log line),
//! `ImportTransactions` by status, `WebhookDeliveries` by outcome, `ServicingActions` by outcome.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "Coverdesk";

#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// Records kept in memory once a test asked for them ([`capture`]).
static CAPTURED: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

/// Tests: keep every record in memory from now on (records of other tests in the same process
/// too); returns every record kept so far.
pub fn capture() -> Vec<String> {
    CAPTURED.get_or_init(|| Mutex::new(Vec::new())).lock().map(|l| l.clone()).unwrap_or_default()
}

/// One EMF record: `dimensions` (name, value) name the metric's series; `metrics` (name, value,
/// unit) are its values; `fields` ride along as searchable log fields.
pub fn record(dimensions: &[(&str, &str)], metrics: &[(&str, f64, Unit)], fields: Map<String, Value>) {
    static IN_LAMBDA: OnceLock<bool> = OnceLock::new();
    let in_lambda = *IN_LAMBDA.get_or_init(|| std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some());
    let captured = CAPTURED.get();
    if !in_lambda && captured.is_none() {
        return;
    }
    let line = render(dimensions, metrics, fields, chrono::Utc::now().timestamp_millis());
    match captured {
        Some(lines) => {
            if let Ok(mut l) = lines.lock() {
                l.push(line);
            }
        }
        None => write_line(&mut std::io::stdout().lock(), line),
    }
}

/// `line` and its newline in one write: an unbuffered stream (standard error) then gets one
/// `write` a line, not one per piece of JSON.
fn write_line(out: &mut impl std::io::Write, mut line: String) {
    line.push('\n');
    // A log that cannot be written (a closed pipe) must not fail the request it logs.
    let _ = out.write_all(line.as_bytes());
}

fn render(dimensions: &[(&str, &str)], metrics: &[(&str, f64, Unit)], fields: Map<String, Value>, ms: i64) -> String {
    let mut root = fields;
    for (name, value) in dimensions {
        root.insert(name.to_string(), json!(value));
    }
    for (name, value, _) in metrics {
        root.insert(name.to_string(), json!(value));
    }
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions.iter().map(|(n, _)| *n).collect::<Vec<_>>()],
                "Metrics": metrics.iter().map(|(n, _, u)| json!({"Name": n, "Unit": u.name()})).collect::<Vec<_>>(),
            }],
        }),
    );
    Value::Object(root).to_string()
}

static WARM: AtomicBool = AtomicBool::new(false);

/// The service name every request line carries.
pub const SERVICE: &str = "coverdesk";

/// Whether the local server writes JSON lines (not at a terminal): set once by the CLI.
static LOCAL_JSON: AtomicBool = AtomicBool::new(false);

/// The CLI: request lines go to standard error as JSON (`true`), or as text through the log.
pub fn set_local_json(json: bool) {
    LOCAL_JSON.store(json, Ordering::Relaxed);
}

/// The one log line of each request, in one shape on the local server and in Lambda (README,
/// "Log lines"): `timestamp`, `level`, `message` (`request`), `service`, `function`, `route`,
/// `status` (text, as the metric's dimension), `latency_ms`, `request_id` (the id the client got
/// in `apigw-requestid`), and in Lambda `cold_start` and `xray_trace_id` when traced. Never the
/// path, query, headers or body (ids, credentials, personal data).
pub fn request_fields(
    request_id: &str,
    route: &str,
    status: u16,
    latency_ms: u64,
    lambda: Option<bool>,
) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("timestamp".into(), json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
    fields.insert("level".into(), json!("INFO"));
    fields.insert("message".into(), json!("request"));
    fields.insert("service".into(), json!(SERVICE));
    fields.insert("function".into(), json!(function_name()));
    fields.insert("route".into(), json!(route));
    fields.insert("status".into(), json!(status.to_string()));
    fields.insert("latency_ms".into(), json!(latency_ms));
    fields.insert("request_id".into(), json!(request_id));
    if let Some(cold) = lambda {
        fields.insert("cold_start".into(), json!(cold));
        if let Some(trace) = crate::net::trace_id() {
            fields.insert("xray_trace_id".into(), json!(trace));
        }
    }
    fields
}

/// The function's name, or `local`; read once (the environment is read under a process-wide lock).
fn function_name() -> &'static str {
    static FUNCTION: OnceLock<String> = OnceLock::new();
    FUNCTION.get_or_init(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into()))
}

/// The local server's request line, [`request_fields`] as JSON, written straight into one buffer
/// with its newline: the same object, keys in the same order, as the map serialised (a test
/// compares them), without building the map (a line a request, at tens of thousands a second).
fn local_line(request_id: &str, route: &str, status: u16, latency_ms: u64) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = Vec::with_capacity(256);
    let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let text = |out: &mut Vec<u8>, key: &str, value: &str| {
        out.extend_from_slice(key.as_bytes());
        // Writing JSON into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, value);
    };
    text(&mut out, "{\"function\":", function_name());
    let _ = write!(out, ",\"latency_ms\":{latency_ms}");
    out.extend_from_slice(b",\"level\":\"INFO\",\"message\":\"request\"");
    text(&mut out, ",\"request_id\":", request_id);
    text(&mut out, ",\"route\":", route);
    text(&mut out, ",\"service\":", SERVICE);
    let _ = write!(out, ",\"status\":\"{status}\"");
    text(&mut out, ",\"timestamp\":", &timestamp);
    out.extend_from_slice(b"}\n");
    out
}

/// A Lambda function's request line: [`request_fields`] with the request's metrics (`Requests`
/// and `Latency` by route and status) in the same JSON object (EMF).
pub fn request(request_id: &str, route: &str, status: u16, latency_ms: u64) {
    let cold = !WARM.swap(true, Ordering::Relaxed);
    let mut fields = request_fields(request_id, route, status, latency_ms, Some(cold));
    // The metric's own copies of route and status are the dimensions below.
    fields.remove("route");
    fields.remove("status");
    let status = status.to_string();
    record(
        &[("route", route), ("status", &status)],
        &[("Requests", 1.0, Unit::Count), ("Latency", latency_ms as f64, Unit::Milliseconds)],
        fields,
    );
}

/// The local server's request line: the same fields as a function's, as one JSON line on
/// standard error when not at a terminal ([`set_local_json`]), else as text through the log.
pub fn local_request(request_id: &str, route: &str, status: u16, latency_ms: u64) {
    if LOCAL_JSON.load(Ordering::Relaxed) {
        // A copy into memory, not a write(2) per request: the writer thread writes what is
        // pending every LOG_EVERY (or at once past LOG_PENDING_MAX), in order.
        WRITER.call_once(|| {
            let spawned = std::thread::Builder::new().name("request-log".into()).spawn(|| loop {
                std::thread::sleep(LOG_EVERY);
                flush_local();
            });
            WRITER_RUNS.store(spawned.is_ok(), Ordering::Relaxed);
        });
        let line = local_line(request_id, route, status, latency_ms);
        let full = {
            let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
            pending.extend_from_slice(&line);
            pending.len() >= LOG_PENDING_MAX
        };
        // Without its thread (none could be started), each line is written at once, as before.
        if full || !WRITER_RUNS.load(Ordering::Relaxed) {
            flush_local();
        }
    } else {
        tracing::info!(route, status, latency_ms, request_id, "request");
    }
}

/// Request lines not written yet ([`local_request`]).
static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Held while pending lines are written, so they reach standard error in the order they came.
static WRITING: Mutex<()> = Mutex::new(());
static WRITER: std::sync::Once = std::sync::Once::new();
static WRITER_RUNS: AtomicBool = AtomicBool::new(false);
/// How long a local request line may wait to be written (README, "Log lines").
pub const LOG_EVERY: std::time::Duration = std::time::Duration::from_millis(50);
/// Pending lines past this many bytes are written at once.
const LOG_PENDING_MAX: usize = 64 * 1024;

/// Writes the local request lines still pending (the server calls it once more as it stops).
/// A log that cannot be written (a closed pipe) must not fail anything: its lines are dropped.
pub fn flush_local() {
    use std::io::Write as _;
    let _order = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    let lines = std::mem::take(&mut *PENDING.lock().unwrap_or_else(|e| e.into_inner()));
    if !lines.is_empty() {
        let _ = std::io::stderr().lock().write_all(&lines);
    }
}

/// A count by one dimension (import transactions by status, deliveries and actions by outcome),
/// with what it is about as searchable log fields (`about`: the team id and the batch or pull id;
/// opaque ids, never personal data).
pub fn count(metric: &str, dimension: &str, value: &str, n: u64, about: &[(&str, &str)]) {
    let mut fields = Map::new();
    fields.insert("level".into(), json!("INFO"));
    fields.insert("message".into(), json!(metric));
    for (k, v) in about {
        fields.insert((*k).into(), json!(v));
    }
    record(&[(dimension, value)], &[(metric, n as f64, Unit::Count)], fields);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_request_line_is_the_fields_serialised() {
        for (id, route, status, ms) in [("r-1", "accounts-get", 200, 7), ("a\"b\\c\u{1}é", "x", 404, 0)] {
            let line = local_line(id, route, status, ms);
            let text = std::str::from_utf8(&line).unwrap();
            assert!(text.ends_with("}\n") && text.matches('\n').count() == 1, "{text}");
            let mut want = Value::Object(request_fields(id, route, status, ms, None));
            let mut got: Value = serde_json::from_str(text).unwrap();
            // The two timestamps are read a moment apart: compared for their shape.
            let stamp = |v: &mut Value| v.as_object_mut().unwrap().remove("timestamp").unwrap();
            let (a, b) = (stamp(&mut want), stamp(&mut got));
            assert_eq!((a.as_str().unwrap().len(), b.as_str().unwrap().ends_with('Z')), (24, true), "{b}");
            assert_eq!(got, want);
            // Byte for byte the map serialised (keys in its order), but for the timestamp's value.
            let masked = |t: &str| {
                let at = t.find("\"timestamp\":\"").unwrap() + 13;
                format!("{}{}{}", &t[..at], "x".repeat(24), &t[at + 24..])
            };
            let want_text = Value::Object(request_fields(id, route, status, ms, None)).to_string();
            assert_eq!(masked(text), masked(&want_text) + "\n");
        }
    }

    #[test]
    fn a_record_is_one_emf_document() {
        let mut fields = Map::new();
        fields.insert("requestId".into(), json!("r-1"));
        let line =
            render(&[("route", "accounts-get"), ("status", "200")], &[("Requests", 1.0, Unit::Count)], fields, 7);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["route"], "accounts-get");
        assert_eq!(v["Requests"], 1.0);
        assert_eq!(v["requestId"], "r-1");
        let m = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v["_aws"]["Timestamp"], 7);
        assert_eq!(m["Namespace"], NAMESPACE);
        assert_eq!(m["Dimensions"], json!([["route", "status"]]));
        assert_eq!(m["Metrics"], json!([{"Name": "Requests", "Unit": "Count"}]));
    }
}
