//! Coverdesk's Lambda glue: one route served as a function behind an API Gateway HTTP API, the
//! servicing worker on the table's stream and schedule, the import on the bucket's notifications
//! and schedule. Typed events in, the domain's handlers called, nothing of the domain here.

use std::convert::Infallible;

use bytes::Bytes;
use lambda_http::{service_fn, Body, Request, Response};

use coverdesk::api::{self, ApiRequest, ApiResponse, Handler, Route};
use coverdesk::deps::Deps;
use coverdesk::types::TeamId;

/// A Lambda request (any API Gateway payload lambda_http understands) as a plain request.
pub fn to_api_request(req: Request) -> ApiRequest {
    let (parts, body) = req.into_parts();
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    ApiRequest::from_parts(parts, body)
}

pub fn to_lambda_response(r: ApiResponse) -> Response<Body> {
    let mut builder = Response::builder().status(r.status);
    for (k, v) in r.headers {
        builder = builder.header(k, v);
    }
    builder.body(Body::Text(String::from_utf8(r.body).unwrap_or_default())).unwrap_or_else(|_| {
        let mut fallback = Response::new(Body::Empty);
        *fallback.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

/// What a function does with one invocation; the tests call it with real events. The one log
/// line of each request is the metrics line ([`coverdesk::metrics::request`]).
pub async fn invoke(deps: &Deps, route: Route, handler: Handler, req: Request) -> Response<Body> {
    use lambda_http::RequestExt;
    let started = std::time::Instant::now();
    let context = req.lambda_context_ref();
    // The id the client got from API Gateway (`apigw-requestid`, and the access log's
    // `requestId`); the invocation's own when the event has none.
    let gateway_id = match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => c.request_id.clone(),
        _ => None,
    };
    let request_id =
        gateway_id.filter(|id| !id.is_empty()).or_else(|| context.map(|c| c.request_id.clone())).unwrap_or_default();
    coverdesk::net::set_trace_id(context.and_then(|c| c.xray_trace_id.clone()));
    let response = api::handle_route(deps, route, handler, to_api_request(req)).await;
    coverdesk::metrics::request(&request_id, route.name(), response.status, started.elapsed().as_millis() as u64);
    to_lambda_response(response)
}

/// A function's dependencies before its `main` adds the store, object store and key its route
/// uses: [`Deps::lambda`] with the HTTP client (documents, webhooks), built on first use.
pub fn deps() -> Deps {
    coverdesk_http::connect(Deps::lambda())
}

/// Logging, as Lambda asks (JSON when the function's log format is JSON, the level of
/// `AWS_LAMBDA_LOG_LEVEL` or else `RUST_LOG`): the first thing a function's `main` does, before
/// it builds its clients. As `lambda_http::tracing::init_default_subscriber`, but with
/// [`QUIET_RUNTIME`] on whatever the level.
pub fn init_logs() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_default();
    let logs = lambda_http::tracing::subscriber::fmt()
        .with_target(false)
        .with_env_filter(log_filter(&level, &std::env::var("RUST_LOG").unwrap_or_default()));
    if std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        // One flat object a line (`timestamp`, `level`, `message`, the fields), as the local
        // server writes (README, "Log lines").
        logs.json().flatten_event(true).with_current_span(false).with_span_list(false).init();
    } else {
        // Text: CloudWatch stamps each line.
        logs.without_time().init();
    }
}

/// The runtime's own lines are kept to INFO and above: at TRACE, lambda_runtime logs every raw
/// event, headers and query string included (credentials, API keys in `?apikey=`).
pub const QUIET_RUNTIME: &str = "lambda_runtime=info";

/// What a function logs: `level` (INFO when absent or unreadable) refined by the `RUST_LOG`
/// directives, with [`QUIET_RUNTIME`] last, so no setting turns the raw events on.
pub fn log_filter(level: &str, directives: &str) -> lambda_http::tracing::subscriber::EnvFilter {
    use lambda_http::tracing::subscriber::filter::{EnvFilter, LevelFilter};
    let level: LevelFilter = level.parse().unwrap_or(LevelFilter::INFO);
    let quiet = QUIET_RUNTIME.parse().unwrap_or_else(|_| LevelFilter::INFO.into());
    EnvFilter::builder().with_default_directive(level.into()).parse_lossy(directives).add_directive(quiet)
}

/// The rest of an API function's `main`: its route served by its handler over the dependencies
/// its `main` built (once per cold start).
pub async fn serve(route: Route, handler: Handler, mut deps: Deps) -> Result<(), lambda_http::Error> {
    if route.needs().objects {
        // Documents are fetched inside the API request: within its timeout.
        deps.fetch_limits = coverdesk::fetch::FetchLimits::within_request();
    }
    let deps = &deps;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(invoke(deps, route, handler, req).await)
    }))
    .await
}

/// What the worker function is invoked with: a DynamoDB stream batch, or anything else (the
/// schedule's EventBridge event), which means "sweep every due job".
#[derive(serde::Deserialize)]
#[serde(untagged)]
pub enum WorkerEvent {
    Stream(aws_lambda_events::event::dynamodb::Event),
    Schedule(serde_json::Value),
}

/// The key of a stream record: the table's partition key.
#[derive(serde::Deserialize)]
struct StreamKey {
    pk: String,
}

/// The job (`(team, subject)`) a stream record names (`pk` = `JOB#<team>#<pull>` or
/// `JOB#<team>#IMP#B#<batch>`), if any.
pub fn stream_job(
    r: &aws_lambda_events::event::dynamodb::EventRecord,
) -> Option<(TeamId, coverdesk::servicing::model::Subject)> {
    serde_dynamo::from_item::<_, StreamKey>(r.change.keys.clone())
        .ok()
        .and_then(|k| coverdesk::servicing::repo::job_of_key(&k.pk))
}

/// What the worker did with one invocation.
#[derive(Debug, Default, PartialEq)]
pub struct WorkerOutcome {
    /// Jobs run (a stream batch).
    pub ran: usize,
    /// Stream records that name no job (each logged).
    pub skipped: usize,
    /// Due jobs swept (the schedule).
    pub swept: usize,
    /// The sequence number of the stream record whose job failed, when one did: Lambda sends the
    /// batch again from there (`ReportBatchItemFailures`), so the records before it are not run
    /// twice and those after it, not run yet, are run then.
    pub failed_at: Option<String>,
}

impl WorkerOutcome {
    /// The invocation's answer: for a stream batch, Lambda's partial batch response
    /// (`{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}`, empty when every record
    /// was taken); the schedule's answer is not read.
    pub fn response(&self) -> serde_json::Value {
        let failures: Vec<serde_json::Value> =
            self.failed_at.iter().map(|seq| serde_json::json!({"itemIdentifier": seq})).collect();
        serde_json::json!({"batchItemFailures": failures})
    }
}

/// The servicing worker function: a stream event runs the jobs it names, in order, until one
/// fails (that record is reported back; the schedule also sweeps it when it is due); any other
/// event (the schedule) sweeps every due job.
pub async fn handle_worker_event(deps: &Deps, event: WorkerEvent) -> WorkerOutcome {
    let worker = deps.worker();
    let mut out = WorkerOutcome::default();
    match event {
        WorkerEvent::Stream(stream) => {
            for (i, r) in stream.records.iter().enumerate() {
                let Some((team, subject)) = stream_job(r) else {
                    out.skipped += 1;
                    tracing::warn!(record = i, event_id = %r.event_id, "stream record names no job; skipped");
                    continue;
                };
                match worker.run(&team, &subject).await {
                    Ok(()) => out.ran += 1,
                    Err(e) => {
                        tracing::warn!(record = i, error = %e, "job failed: the stream sends it again from this record");
                        // A record without a sequence number cannot be named: an empty identifier
                        // makes Lambda retry the whole batch (bisecting it), the fallback.
                        out.failed_at = Some(r.change.sequence_number.clone().unwrap_or_default());
                        break;
                    }
                }
            }
            tracing::info!(ran = out.ran, skipped = out.skipped, failed = out.failed_at.is_some(), "stream batch");
        }
        WorkerEvent::Schedule(_) => match worker.sweep().await {
            Ok(n) => out.swept = n,
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        },
    }
    out
}

/// The rest of the worker function's `main` (its dependencies: the store and the key, with which
/// it opens consumer credentials and signs webhook deliveries).
pub async fn serve_worker(deps: Deps) -> Result<(), lambda_http::Error> {
    let deps = &deps;
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<WorkerEvent>| async move {
            coverdesk::net::set_trace_id(event.context.xray_trace_id.clone());
            Ok::<_, Infallible>(handle_worker_event(deps, event.payload).await.response())
        },
    ))
    .await
}

/// The S3 upload function: imports every object an S3 event names. An object that can never be
/// imported (a key outside `uploads/<team>/`, an object already deleted) is logged and skipped;
/// any other failure is returned so that Lambda retries the event (the batch id makes the retry
/// harmless).
pub async fn handle_s3_event(
    deps: &Deps,
    event: &aws_lambda_events::event::s3::S3Event,
) -> Result<serde_json::Value, coverdesk::import::upload::UploadError> {
    let (objects, mut skipped) = s3_objects(event);
    let mut out = Vec::new();
    for o in objects {
        match coverdesk::import::upload::import_object(&deps.imports(), &o.bucket, &o.key, &o.etag, &|_, _| {}).await {
            Ok(r) => out.push(serde_json::json!({"key": o.key, "batch_id": r.batch_id, "result_key": r.result_key, "total": r.total, "imported": r.imported})),
            Err(e) if e.is_permanent() => {
                skipped += 1;
                tracing::warn!(error = %e, "skipped")
            }
            Err(e) => return Err(e),
        }
    }
    Ok(serde_json::json!({"imported": out, "skipped": skipped}))
}

/// One object an S3 event names.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedObject {
    pub bucket: String,
    /// Decoded (S3 sends keys URL-encoded, spaces as `+`).
    pub key: String,
    pub etag: String,
}

/// The objects an S3 event names, and how many records were skipped because they are not S3
/// records or name no bucket or key (each is logged).
pub fn s3_objects(event: &aws_lambda_events::event::s3::S3Event) -> (Vec<UploadedObject>, usize) {
    let mut objects = Vec::new();
    let mut skipped = 0;
    for (i, r) in event.records.iter().enumerate() {
        let key = r.s3.object.key.as_deref().and_then(|raw| {
            percent_encoding::percent_decode_str(&raw.replace('+', " ")).decode_utf8().ok().map(|k| k.into_owned())
        });
        match (r.event_source.as_deref(), &r.s3.bucket.name, key) {
            (Some("aws:s3"), Some(bucket), Some(key)) => objects.push(UploadedObject {
                bucket: bucket.clone(),
                key,
                etag: r.s3.object.e_tag.clone().unwrap_or_default(),
            }),
            _ => {
                skipped += 1;
                tracing::warn!(record = i, "S3 event record without an S3 source, bucket or readable key; skipped");
            }
        }
    }
    (objects, skipped)
}

/// What the upload function is invoked with: the bucket's notification, or its schedule (an
/// EventBridge scheduled event), which means "import again every batch whose import died".
#[derive(serde::Deserialize)]
#[serde(untagged)]
pub enum UploadEvent {
    Schedule(ScheduledEvent),
    S3(aws_lambda_events::event::s3::S3Event),
}

/// An EventBridge scheduled event (only its kind is read).
#[derive(serde::Deserialize)]
pub struct ScheduledEvent {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
}

/// Batches resumed per scheduled run (each may take minutes).
const RESUMED_PER_SWEEP: usize = 3;

/// The upload function: a notification imports the objects it names; the schedule resumes
/// batches whose import died.
pub async fn handle_upload_event(
    deps: &Deps,
    event: &UploadEvent,
) -> Result<serde_json::Value, coverdesk::import::upload::UploadError> {
    match event {
        UploadEvent::S3(e) => handle_s3_event(deps, e).await,
        UploadEvent::Schedule(_) => {
            let n = coverdesk::import::upload::resume_stale(&deps.imports(), RESUMED_PER_SWEEP).await?;
            Ok(serde_json::json!({"resumed": n}))
        }
    }
}

/// The rest of the upload function's `main` (its dependencies: the store and the bucket).
pub async fn serve_s3_import(deps: Deps) -> Result<(), lambda_http::Error> {
    let deps = &deps;
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<UploadEvent>| async move {
            coverdesk::net::set_trace_id(event.context.xray_trace_id.clone());
            handle_upload_event(deps, &event.payload).await.map_err(lambda_http::Error::from)
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Even at TRACE (by level or by directive), the runtime's raw-event line never reaches the
    /// log: it would carry the `apiKey` header and `?apikey=` of an import request.
    #[test]
    fn a_raw_event_with_its_api_key_is_never_logged() {
        use lambda_http::tracing::subscriber::EnvFilter;
        let cases = [("TRACE", ""), ("", "trace"), ("INFO", "info,lambda_runtime=trace"), ("plain", "trace")];
        for (level, directives) in cases {
            let out = Captured::default();
            let writer = out.clone();
            // "plain": the runtime's own filter at TRACE, to show the line exists to be kept out.
            let filter = if level == "plain" { EnvFilter::new(directives) } else { log_filter(level, directives) };
            let logs = lambda_http::tracing::subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_env_filter(filter)
                .finish();
            tracing::subscriber::with_default(logs, || {
                tracing::trace!(
                    target: "lambda_runtime::layers::api_response",
                    body = r#"{"rawQueryString":"apikey=cdk_secret","headers":{"apikey":"cdk_secret"}}"#,
                    "raw JSON event received from Lambda"
                );
                tracing::info!(target: "lambda_runtime::runtime", "runtime info stays");
                tracing::info!(target: "coverdesk::api", route = "tax-rules-get", status = 200, "request");
            });
            let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
            if level == "plain" {
                assert!(text.contains("cdk_secret"), "{text}");
                continue;
            }
            assert!(!text.contains("cdk_secret") && !text.contains("raw JSON event"), "{level} {directives}: {text}");
            assert!(
                text.contains("runtime info stays") && text.contains("tax-rules-get"),
                "{level} {directives}: {text}"
            );
        }
    }
}
