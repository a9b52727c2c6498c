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
