//! POST /import/v1/transactions

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::ImportTransactions).await
}
