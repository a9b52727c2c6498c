//! POST /widget/pull/{pullId}/idv

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::WidgetIdv).await
}
