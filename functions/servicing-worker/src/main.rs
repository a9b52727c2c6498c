//! The servicing worker: runs pull jobs named by the table's stream, and sweeps due jobs on a schedule.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run_worker().await
}
