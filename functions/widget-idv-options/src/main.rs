//! POST /widget/pull/{pullId}/idvoptions

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::WidgetIdvOptions).await
}
