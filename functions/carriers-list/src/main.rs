//! GET /carriers

use coverdesk::api::Route;
use coverdesk::deps::Deps;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::init_logs();
    // The carrier catalogue is built in: no store, no AWS client.
    let deps = Deps::lambda();
    coverdesk::lambda::serve(Route::ListCarriers, coverdesk::handler!(coverdesk::api::servicing::list_carriers), deps)
        .await
}
