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
