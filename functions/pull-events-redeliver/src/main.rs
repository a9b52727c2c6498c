//! POST /teams/{teamId}/pulls/{pullId}/events/{eventId}/redeliver

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::RedeliverEvent).await
}
