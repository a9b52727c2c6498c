//! GET /carriers/{carrierId}

use coverdesk::api::Route;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk_lambda::init_logs();
    // The carrier catalogue is built in: no store, no AWS client.
    let deps = coverdesk_lambda::deps();
    coverdesk_lambda::serve(Route::GetCarrier, coverdesk::handler!(coverdesk::api::servicing::get_carrier), deps).await
}
