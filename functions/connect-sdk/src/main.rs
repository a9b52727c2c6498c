//! GET /c/sdk.js

use coverdesk::api::Route;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk_lambda::init_logs();
    // The script is built in: no store, no AWS client.
    let deps = coverdesk_lambda::deps();
    coverdesk_lambda::serve(Route::ConnectSdk, coverdesk::handler!(coverdesk::api::connect::sdk), deps).await
}
