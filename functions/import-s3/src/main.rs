//! Imports batch files uploaded to the bucket under `uploads/<team>/`; results go to `results/<team>/`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    coverdesk::lambda::run_s3_import().await
}
