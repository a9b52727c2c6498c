//! Cold-start reference: lambda_http with a DynamoDB client built at init (what every function
//! that reads the table must pay at least).

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let dynamo = &dynamo;
    lambda_http::run(service_fn(move |_: Request| async move {
        let _ = dynamo;
        Ok::<_, Error>(Response::new(Body::from("{}")))
    }))
    .await
}
