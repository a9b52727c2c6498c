//! The deployment key from AWS Secrets Manager, read once per cold start by the functions that
//! seal, open or sign (their routes' `needs_key`). Its own crate so that no other function links
//! the Secrets Manager client.

use coverdesk::crypto::{Keys, KEY_ENV};
use coverdesk::deps::{ConfigError, KEY_SECRET_ENV};

/// The deployment key: `COVERDESK_SECRET_KEY` (base64, for local runs such as
/// `cargo lambda watch`), else the Secrets Manager secret named by `COVERDESK_KEY_SECRET_ARN`.
pub async fn from_env(config: &aws_config::SdkConfig) -> Result<Keys, ConfigError> {
    if let Ok(k) = std::env::var(KEY_ENV) {
        return Ok(Keys::from_base64(&k)?);
    }
    let arn = std::env::var(KEY_SECRET_ENV).map_err(|_| ConfigError::Missing(KEY_SECRET_ENV))?;
    from_secret(&aws_sdk_secretsmanager::Client::new(config), &arn).await
}

/// Reads the deployment key from a Secrets Manager secret (see [`Keys::from_secret`]). Errors
/// name the secret's ARN and the service's error, never the secret.
pub async fn from_secret(client: &aws_sdk_secretsmanager::Client, arn: &str) -> Result<Keys, ConfigError> {
    let out = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
        ConfigError::Other(format!("cannot read the deployment key from {arn}: {}", coverdesk::net::error_chain(&e)))
    })?;
    let text = out.secret_string().ok_or_else(|| ConfigError::Other(format!("the secret {arn} holds no string")))?;
    Ok(Keys::from_secret(text)?)
}
