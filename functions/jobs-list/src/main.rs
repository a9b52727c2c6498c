//! GET /account/v1/accounts/{accountId}/jobs

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::ListJobs).await
}
