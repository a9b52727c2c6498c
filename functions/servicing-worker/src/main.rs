//! The servicing worker: runs pull jobs named by the table's stream, and sweeps due jobs on a schedule.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk_lambda::init_logs();
    let aws = coverdesk_dynamo::config().await;
    // It opens consumer credentials and signs webhook deliveries: the store and the key.
    let (store, keys) = tokio::try_join!(coverdesk_dynamo::from_env(&aws), coverdesk_secrets::from_env(&aws))?;
    coverdesk_lambda::serve_worker(coverdesk_lambda::deps().with_store(store).with_keys(keys)).await
}
