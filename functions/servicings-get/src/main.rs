//! GET /teams/{teamId}/servicings/{servicingActionId}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::GetServicing).await
}
