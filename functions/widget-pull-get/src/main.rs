//! GET /widget/pull/{pullId}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run(coverdesk::api::Route::WidgetGetPull).await
}
