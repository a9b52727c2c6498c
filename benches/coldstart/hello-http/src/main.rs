//! Cold-start reference: lambda_http and nothing else (no AWS client): what a function that keeps
//! no data, such as carriers-list, must pay at least.

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_: Request| async { Ok::<_, Error>(Response::new(Body::from("{}"))) })).await
}
