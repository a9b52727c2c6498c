//! POST /import/v1/transaction

use coverdesk::api::Route;
use coverdesk::deps::Deps;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::init_logs();
    let aws = coverdesk_dynamo::config().await;
    let deps =
        Deps::lambda().with_store(coverdesk_dynamo::from_env(&aws).await?).with_objects(coverdesk_s3::from_env(&aws)?);
    coverdesk::lambda::serve(
        Route::ImportTransaction,
        coverdesk::handler!(coverdesk::api::import::import_transaction),
        deps,
    )
    .await
}
