//! GET /account/v1/accounts/{accountId}/policies

use coverdesk::api::Route;
use coverdesk::deps::Deps;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::init_logs();
    let aws = coverdesk_dynamo::config().await;
    let deps = Deps::lambda().with_store(coverdesk_dynamo::from_env(&aws).await?);
    coverdesk::lambda::serve(Route::ListPolicies, coverdesk::handler!(coverdesk::api::accounts::list_policies), deps)
        .await
}
