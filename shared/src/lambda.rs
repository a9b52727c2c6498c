//! Serving one route as an AWS Lambda function behind an API Gateway HTTP API.

use std::convert::Infallible;

use bytes::Bytes;
use lambda_http::{service_fn, Body, Request, Response};

use crate::api::{self, ApiRequest, ApiResponse, Route};
use crate::deps::Deps;

/// A Lambda request (any API Gateway payload lambda_http understands) as a plain request.
pub fn to_api_request(req: Request) -> ApiRequest {
    let (parts, body) = req.into_parts();
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    ApiRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
    }
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

/// What a function's handler does with one invocation; the tests call it with real events.
pub async fn invoke(deps: &Deps, route: Route, req: Request) -> Response<Body> {
    to_lambda_response(api::handle_route(deps, route, to_api_request(req)).await)
}

/// The whole of a function's `main`: logging, dependencies once per cold start, then serve.
pub async fn run(route: Route) -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let deps = Deps::from_env().await?;
    let deps = &deps;
    lambda_http::run(service_fn(move |req: Request| async move { Ok::<_, Infallible>(invoke(deps, route, req).await) }))
        .await
}

/// Job keys named by a DynamoDB stream event (`Records[].dynamodb.Keys.pk.S` = `JOB#<team>#<pull>`).
pub fn stream_jobs(event: &serde_json::Value) -> Option<Vec<(String, String)>> {
    let records = event.get("Records")?.as_array()?;
    Some(
        records
            .iter()
            .filter_map(|r| r.pointer("/dynamodb/Keys/pk/S")?.as_str())
            .filter_map(|pk| {
                let mut parts = pk.strip_prefix("JOB#")?.splitn(2, '#');
                Some((parts.next()?.to_string(), parts.next()?.to_string()))
            })
            .collect(),
    )
}

/// The servicing worker function: a stream event runs the jobs it names; any other event (the
/// schedule) sweeps every due job. Failures leave the job queued for the next sweep.
pub async fn handle_worker_event(deps: &Deps, event: serde_json::Value) -> serde_json::Value {
    let worker = deps.worker();
    match stream_jobs(&event) {
        Some(jobs) => {
            let mut ran = 0;
            for (team, pull) in jobs {
                match worker.run_job(&team, &pull).await {
                    Ok(()) => ran += 1,
                    Err(e) => tracing::warn!(error = %e, "job left for the next sweep"),
                }
            }
            serde_json::json!({"ran": ran})
        }
        None => match worker.sweep().await {
            Ok(n) => serde_json::json!({"swept": n}),
            Err(e) => {
                tracing::warn!(error = %e, "sweep failed");
                serde_json::json!({"swept": 0})
            }
        },
    }
}

/// The whole of the worker function's `main`.
pub async fn run_worker() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let deps = Deps::from_env().await?;
    let deps = &deps;
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<serde_json::Value>| async move {
            Ok::<_, Infallible>(handle_worker_event(deps, event.payload).await)
        },
    ))
    .await
}

/// The S3 upload function: imports every object an S3 event names. A failure is returned as an
/// error so that Lambda retries the event (the batch id makes the retry harmless).
pub async fn handle_s3_event(deps: &Deps, event: serde_json::Value) -> Result<serde_json::Value, String> {
    let records = crate::import::upload::s3_records(&event).ok_or("not an S3 event")?;
    let mut out = Vec::new();
    for (bucket, key, etag) in records {
        match crate::import::upload::import_object(deps, &bucket, &key, &etag, &|_, _| {}).await {
            Ok(o) => out.push(serde_json::json!({"key": key, "batch_id": o.batch_id, "result_key": o.result_key, "total": o.total, "imported": o.imported})),
            Err(e) if e.starts_with("invalid object key") || e.starts_with("not under") || e.starts_with("expected") => {
                tracing::warn!(error = %e, "not an upload; skipped")
            }
            Err(e) => return Err(e),
        }
    }
    Ok(serde_json::json!({"imported": out}))
}

/// The whole of the upload function's `main`.
pub async fn run_s3_import() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let deps = Deps::from_env().await?;
    let deps = &deps;
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<serde_json::Value>| async move {
            handle_s3_event(deps, event.payload).await.map_err(lambda_http::Error::from)
        },
    ))
    .await
}
