//! GET /teams/{teamId}/pulls/{pullId}/events

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::ListPullEvents).await
}
