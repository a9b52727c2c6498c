//! DELETE /teams/{teamId}/webhooks/{webhookId}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::DeleteWebhook).await
}
