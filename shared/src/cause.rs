//! A failure on our side keeps its cause, from where it happened to the one place that logs it
//! (`api::answer`, with [`error_chain`]); the client sees only "internal error".

use std::sync::Arc;

/// The cause of an internal error: any error, shared so the error enums stay `Clone`.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// `e` as a [`Cause`]: an error, or a message (`&str`, `String`) where there is no error value.
pub fn cause(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Cause {
    Arc::from(e.into())
}

/// An error with every cause under it, `outer: inner: ...` .
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        text = format!("{text}: {s}");
        src = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_internal_error_keeps_its_cause_to_the_log_and_shows_none() {
        let io = std::io::Error::other("disk full");
        for shown in [
            crate::accounts::AccountError::internal(io).to_string(),
            crate::servicing::ServicingError::internal("consent record missing").to_string(),
            crate::import::ImportError::internal("TLS roots: none").to_string(),
        ] {
            assert_eq!(shown, "internal error", "the message names no cause");
        }
        let e = crate::import::ImportError::internal(std::io::Error::other("disk full"));
        assert_eq!(super::error_chain(&e), "internal error: disk full");
        let e = crate::servicing::ServicingError::internal("consent record missing");
        assert_eq!(super::error_chain(&e), "internal error: consent record missing");
    }
}
