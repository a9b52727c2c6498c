//! GET /carriers

use coverdesk::api::Route;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk_lambda::init_logs();
    // The carrier catalogue is built in: no store, no AWS client.
    let deps = coverdesk_lambda::deps();
    coverdesk_lambda::serve(Route::ListCarriers, coverdesk::handler!(coverdesk::api::servicing::list_carriers), deps)
        .await
}
