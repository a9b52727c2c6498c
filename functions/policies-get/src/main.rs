//! GET /account/v1/accounts/{accountId}/policies/{policyId}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::GetPolicy).await
}
