//! GET /account/v1/accounts/{accountId}/notes

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::ListNotes).await
}
