//! Cold-start reference: hello-dynamo plus the read every function that keeps data makes during
//! init to open the DynamoDB connection (coverdesk_dynamo::DynamoStore::warm_up): the difference
//! between this and hello-dynamo is what the warm-up costs.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let table = std::env::var("COVERDESK_TABLE").unwrap_or_default();
    let read = dynamo
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S("coverdesk-warm-up".into()))
        .key("sk", AttributeValue::S("coverdesk-warm-up".into()))
        .send();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), read).await;
    let dynamo = &dynamo;
    lambda_http::run(service_fn(move |_: Request| async move {
        let _ = dynamo;
        Ok::<_, Error>(Response::new(Body::from("{}")))
    }))
    .await
}
