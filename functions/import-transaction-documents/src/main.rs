//! POST /import/v1/transactions/{transactionId}/documents

use coverdesk::api::Route;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk_lambda::init_logs();
    let aws = coverdesk_dynamo::config().await;
    let deps = coverdesk_lambda::deps()
        .with_store(coverdesk_dynamo::from_env(&aws).await?)
        .with_objects(coverdesk_s3::from_env(&aws)?);
    coverdesk_lambda::serve(
        Route::AddTransactionDocuments,
        coverdesk::handler!(coverdesk::api::import::add_transaction_documents),
        deps,
    )
    .await
}
