//! GET /import/v1/transactions/{transactionId}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::GetImportedTransaction).await
}
