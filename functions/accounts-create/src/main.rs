//! POST /account/v1/accounts

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::CreateAccount).await
}
