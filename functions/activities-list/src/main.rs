//! GET /account/v1/accounts/{accountId}/activities

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::ListActivities).await
}
