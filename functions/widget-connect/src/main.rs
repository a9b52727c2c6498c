//! POST /widget/pull/{pullId}/connect

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::WidgetConnect).await
}
