//! GET /carriers/{carrierId}

use coverdesk::api::Route;
use coverdesk::deps::Deps;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::init_logs();
    // The carrier catalogue is built in: no store, no AWS client.
    let deps = Deps::lambda();
    coverdesk::lambda::serve(Route::GetCarrier, coverdesk::handler!(coverdesk::api::servicing::get_carrier), deps).await
}
