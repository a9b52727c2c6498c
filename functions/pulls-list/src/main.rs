//! GET /teams/{teamId}/pulls

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::ListPulls).await
}
