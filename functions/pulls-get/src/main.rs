//! GET /teams/{teamId}/pulls/{pullId}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::GetPull).await
}
