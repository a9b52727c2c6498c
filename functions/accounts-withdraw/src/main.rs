//! POST /account/v1/accounts/{accountId}/withdraw

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::WithdrawAccount).await
}
