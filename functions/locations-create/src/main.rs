//! POST /account/v1/accounts/{accountId}/locations

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::CreateLocation).await
}
