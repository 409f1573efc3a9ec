//! [`MainError`]: what `main` returns, so a start-up failure prints as a sentence.

use std::error::Error as StdError;
use std::fmt;

/// Any error, for `main`'s return type: `async fn main() -> Result<(), MainError>`.
///
/// Rust prints the error `main` returns with `Debug`, which for most error types is a struct
/// dump (`Listen { addr: .., source: Os { code: 98, .. } }`). This one prints the message and
/// its causes instead: `Error: cannot listen on 0.0.0.0:3000: Address in use (os error 98).
/// Another process is using port 3000: ...`. `?` converts every error type into it.
pub struct MainError(Box<dyn StdError + Send + Sync>);

impl MainError {
    /// The error it holds.
    pub fn into_inner(self) -> Box<dyn StdError + Send + Sync> {
        self.0
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for MainError {
    fn from(error: E) -> MainError {
        MainError(Box::new(error))
    }
}

impl fmt::Display for MainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            // Many errors repeat their source in their own message; say each thing once.
            let text = e.to_string();
            if !self.0.to_string().contains(&text) {
                write!(f, ": {text}")?;
            }
            cause = e.source();
        }
        Ok(())
    }
}

impl fmt::Debug for MainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot start: {0}")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn prints_the_message_once_with_its_causes() {
        let inner = std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use");
        let error = MainError::from(Outer(inner));
        assert_eq!(format!("{error:?}"), "cannot start: address in use");
        #[derive(Debug, thiserror::Error)]
        #[error("cannot start")]
        struct Quiet(#[source] std::io::Error);
        let error = MainError::from(Quiet(std::io::Error::other("disk full")));
        assert_eq!(format!("{error:?}"), "cannot start: disk full");
    }
}
