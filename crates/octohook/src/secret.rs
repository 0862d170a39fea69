//! The shared secret a hook signs its deliveries with.

use std::fmt;

use zeroize::Zeroizing;

/// The secret configured on a GitHub webhook.
///
/// It is never empty, prints as `[redacted]` in `Debug`, has no `Display` or
/// `Serialize`, and its bytes are wiped when it is dropped.
///
/// ```
/// use octohook::WebhookSecret;
///
/// let secret = WebhookSecret::new("It's a Secret to Everybody").unwrap();
/// assert_eq!(format!("{secret:?}"), "WebhookSecret([redacted])");
/// assert!(WebhookSecret::new("").is_err());
/// ```
#[derive(Clone)]
pub struct WebhookSecret(Zeroizing<Vec<u8>>);

/// An empty secret: GitHub sends unsigned deliveries when a hook has none, and an
/// empty HMAC key would accept anyone's signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a webhook secret must not be empty")]
pub struct EmptySecret;

impl WebhookSecret {
    /// Wraps a secret; fails on an empty one.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, EmptySecret> {
        let bytes = Zeroizing::new(secret.into());
        if bytes.is_empty() {
            return Err(EmptySecret);
        }
        Ok(Self(bytes))
    }

    /// The secret's bytes, for computing an HMAC.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl TryFrom<String> for WebhookSecret {
    type Error = EmptySecret;

    fn try_from(secret: String) -> Result<Self, Self::Error> {
        Self::new(secret)
    }
}

impl TryFrom<&str> for WebhookSecret {
    type Error = EmptySecret;

    fn try_from(secret: &str) -> Result<Self, Self::Error> {
        Self::new(secret)
    }
}
