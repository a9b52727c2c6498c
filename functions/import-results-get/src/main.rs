//! GET /import/v1/transaction-import-results

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::GetImportResults).await
}
