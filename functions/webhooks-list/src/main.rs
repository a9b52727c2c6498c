//! GET /teams/{teamId}/webhooks

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::ListWebhooks).await
}
