//! GET /account/v1/accounts/{accountId}/locations/{locationId}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::GetLocation).await
}
