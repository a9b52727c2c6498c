//! PUT /account/v1/accounts/{accountId}/online-access

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::SetOnlineAccess).await
}
