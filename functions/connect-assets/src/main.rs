//! GET /c/assets/{asset}

use coverdesk::api::Route;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk_lambda::init_logs();
    // The page's files are built in: no store, no AWS client.
    let deps = coverdesk_lambda::deps();
    coverdesk_lambda::serve(Route::ConnectAsset, coverdesk::handler!(coverdesk::api::connect::asset), deps).await
}
