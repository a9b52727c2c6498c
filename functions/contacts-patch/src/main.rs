//! PATCH /account/v1/accounts/{accountId}/contacts/{contactId}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::PatchContact).await
}
