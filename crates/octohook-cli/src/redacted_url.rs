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

/// `text` without the credentials the command line or the environment gave
/// the process: every argument, the value of a `--flag=value` argument, and
/// every environment variable, that holds a URL with a user name or password
/// is replaced by its [redacted](RedactedUrl) form wherever `text` repeats it,
/// and a connection string with a `password=` wholly by `***`.
///
/// clap repeats values in its errors (`invalid value '…' for '--db-size-limit
/// <SIZE>'`, `unexpected argument '…' found`), and a database or broker URL
/// given to the wrong flag, or without its flag, would otherwise be printed
/// with its password; the command's own failures go through it too.
pub(crate) fn without_given_credentials(text: &str) -> String {
    let given = std::env::args_os()
        .chain(std::env::vars_os().map(|(_, value)| value))
        .map(|value| value.to_string_lossy().into_owned());
    redact_values(text, given)
}

/// [`without_given_credentials`] for the given `values`.
fn redact_values(text: &str, values: impl IntoIterator<Item = String>) -> String {
    let mut replacements: Vec<(String, String)> = Vec::new();
    for value in values {
        // `--flag=VALUE`: the value alone, wherever it is repeated.
        let value = match value.split_once('=') {
            Some((flag, after)) if flag.starts_with('-') => after.to_owned(),
            _ => value,
        };
        if let Some(shown) = shown_without_credentials(&value) {
            replacements.push((value, shown));
        }
    }
    // The longest first: one value inside another is replaced with it.
    replacements.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
    replacements
        .into_iter()
        .fold(text.to_owned(), |text, (value, shown)| {
            text.replace(&value, &shown)
        })
}

/// How `value` may be shown when it holds credentials; `None` when it holds
/// none.
fn shown_without_credentials(value: &str) -> Option<String> {
    match reqwest::Url::parse(value) {
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            Some(RedactedUrl(&url).to_string())
        }
        Ok(_) => None,
        // A URL the parser refuses may still carry `user:password@`.
        Err(_) if value.contains("://") && value.contains('@') => Some("***".to_owned()),
        Err(_) if value.to_ascii_lowercase().contains("password=") => Some("***".to_owned()),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_credentials_are_redacted_wherever_repeated() {
        let given = [
            "octohook",
            "postgres://u:hunter2@127.0.0.1/x",
            "--databse-url=nats://n:s3cret@127.0.0.1:4222/",
            "host=127.0.0.1 password=pw1",
            "http://x:pw2@bad host/",
            "http://127.0.0.1:3000/",
        ]
        .map(str::to_owned);
        let text = "invalid value 'postgres://u:hunter2@127.0.0.1/x'; unexpected argument \
                    '--databse-url=nats://n:s3cret@127.0.0.1:4222/'; 'host=127.0.0.1 password=pw1'; \
                    'http://x:pw2@bad host/'; http://127.0.0.1:3000/";
        let shown = redact_values(text, given);
        for secret in ["hunter2", "s3cret", "pw1", "pw2"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("'postgres://***@127.0.0.1/x'"), "{shown}");
        assert!(
            shown.contains("'--databse-url=nats://***@127.0.0.1:4222/'"),
            "{shown}"
        );
        assert!(shown.ends_with("http://127.0.0.1:3000/"), "{shown}");
    }

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
