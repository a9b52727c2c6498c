//! GET /teams/{teamId}/servicings

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::ListServicings).await
}
