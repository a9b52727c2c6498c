//! POST /account/v1/search/accounts-freetext

use coverdesk::api::Route;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk_lambda::init_logs();
    let aws = coverdesk_dynamo::config().await;
    let deps = coverdesk_lambda::deps().with_store(coverdesk_dynamo::from_env(&aws).await?);
    coverdesk_lambda::serve(
        Route::SearchAccountsFreeText,
        coverdesk::handler!(coverdesk::api::accounts::search_accounts_freetext),
        deps,
    )
    .await
}
