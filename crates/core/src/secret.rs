//! A string that must never reach a log line: access tokens, client and webhook secrets. The
//! one secret type of every crate, so a secret is never copied into another type in plaintext.

use std::fmt;

use zeroize::Zeroize;

/// A secret string (access token, client secret, webhook secret).
///
/// `Debug` prints `[redacted]` and there is deliberately no `Display`, so a secret cannot end up
/// in a log line or an error message by accident; read it with [`SecretString::expose`] at the
/// one place that needs it. The buffer is zeroed when the value is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Keep the borrow short and never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a candidate (e.g. a webhook header), so the time taken
    /// does not reveal how many leading bytes matched.
    pub fn ct_eq(&self, candidate: &[u8]) -> bool {
        let mine = self.0.as_bytes();
        // The length of a secret is not itself secret (they are all generated with a fixed size).
        if mine.len() != candidate.len() {
            return false;
        }
        let mut diff = 0u8;
        for (a, b) in mine.iter().zip(candidate) {
            diff |= a ^ b;
        }
        diff == 0
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretString::new("tok_abc123");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
        assert_eq!(s.expose(), "tok_abc123");
    }

    #[test]
    fn constant_time_compare() {
        let s = SecretString::new("abcdef");
        assert!(s.ct_eq(b"abcdef"));
        assert!(!s.ct_eq(b"abcdeg"));
        assert!(!s.ct_eq(b"abcde"));
        assert!(!s.ct_eq(b""));
    }
}
