//! POST /widget/pull/{pullId}/idvoptions

use coverdesk::api::Route;
use coverdesk::deps::Deps;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::init_logs();
    let aws = coverdesk_dynamo::config().await;
    let (store, keys) = tokio::try_join!(coverdesk_dynamo::from_env(&aws), coverdesk_secrets::from_env(&aws))?;
    let deps = Deps::lambda().with_store(store).with_keys(keys);
    coverdesk::lambda::serve(
        Route::WidgetIdvOptions,
        coverdesk::handler!(coverdesk::api::servicing::widget_idv_options),
        deps,
    )
    .await
}
