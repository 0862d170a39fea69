//! A URL as printed or logged: without the user name and password it may carry
//! (`http://user:token@host/`), which would otherwise end up in terminals, logs
//! and bug reports.

use std::fmt;

/// Displays a URL with its user information, if any, replaced by `***`.
///
/// ```text
/// http://user:hunter2@127.0.0.1:3000/hooks  is shown as  http://***@127.0.0.1:3000/hooks
/// http://127.0.0.1:3000/hooks               is shown as  http://127.0.0.1:3000/hooks
/// ```
#[derive(Clone, Copy, Debug)]
pub(crate) struct RedactedUrl<'a>(pub(crate) &'a reqwest::Url);

impl fmt::Display for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.0;
        if url.username().is_empty() && url.password().is_none() {
            return f.write_str(url.as_str());
        }
        let mut shown = url.clone();
        // Only URLs without a host refuse these, and those carry no user.
        if shown.set_password(None).is_err() || shown.set_username("***").is_err() {
            return f.write_str("(a URL with credentials)");
        }
        f.write_str(shown.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(url: &str) -> String {
        RedactedUrl(&url.parse().unwrap()).to_string()
    }

    #[test]
    fn user_information_is_replaced_and_the_rest_kept() {
        assert_eq!(
            shown("http://user:hunter2@127.0.0.1:3000/hooks?x=1"),
            "http://***@127.0.0.1:3000/hooks?x=1"
        );
        assert_eq!(
            shown("https://ghp_token@example.com/"),
            "https://***@example.com/"
        );
        assert_eq!(
            shown("https://:hunter2@example.com/"),
            "https://***@example.com/"
        );
        assert_eq!(shown("http://127.0.0.1:3000/"), "http://127.0.0.1:3000/");
    }
}
