//! Cold-start reference: lambda_http with DynamoDB and S3 clients built at init (what an import
//! function must pay at least).

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let clients = (aws_sdk_dynamodb::Client::new(&config), aws_sdk_s3::Client::new(&config));
    let clients = &clients;
    lambda_http::run(service_fn(move |_: Request| async move {
        let _ = clients;
        Ok::<_, Error>(Response::new(Body::from("{}")))
    }))
    .await
}
