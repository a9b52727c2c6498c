//! POST /widget/pull/{pullId}/connect

use coverdesk::api::Route;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk_lambda::init_logs();
    let aws = coverdesk_dynamo::config().await;
    let (store, keys) = tokio::try_join!(coverdesk_dynamo::from_env(&aws), coverdesk_secrets::from_env(&aws))?;
    let deps = coverdesk_lambda::deps().with_store(store).with_keys(keys);
    coverdesk_lambda::serve(Route::WidgetConnect, coverdesk::handler!(coverdesk::api::servicing::widget_connect), deps)
        .await
}
