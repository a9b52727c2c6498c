//! GET /import/v1/tax-rules/{state}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::GetTaxRules).await
}
