//! PATCH /account/v1/accounts/{accountId}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::PatchAccount).await
}
