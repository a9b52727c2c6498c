//! POST /account/v1/accounts/{accountId}/reopen

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::ReopenAccount).await
}
