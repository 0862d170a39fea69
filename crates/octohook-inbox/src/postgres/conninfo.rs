//! The TLS parameters of a connection string, which this crate reads itself:
//! tokio-postgres knows neither `verify-ca`/`verify-full` nor `sslrootcert`.

use std::path::PathBuf;

use crate::{SslMode, StoreError};

/// What a connection string says about TLS.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SslParams {
    /// `sslmode`.
    pub(crate) mode: Option<SslMode>,
    /// `sslrootcert`.
    pub(crate) root_cert: Option<PathBuf>,
}

/// A connection string without its TLS parameters (for tokio-postgres to
/// parse), and those parameters. Deliberately not `Debug`: it may hold a
/// password.
pub(crate) struct Split {
    pub(crate) rest: String,
    pub(crate) ssl: SslParams,
}

/// Takes `sslmode` and `sslrootcert` out of a URL (`postgres://...?sslmode=...`)
/// or a `key=value` connection string.
pub(crate) fn split(conninfo: &str) -> Result<Split, StoreError> {
    let mut ssl = SslParams::default();
    let mut take = |key: &str, value: &str| -> Result<bool, StoreError> {
        match key {
            "sslmode" => {
                let mode = value
                    .parse()
                    .map_err(|error| StoreError::Config(format!("{error}")))?;
                ssl.mode = Some(mode);
                Ok(true)
            }
            "sslrootcert" => {
                ssl.root_cert = Some(PathBuf::from(value));
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = match url_query(conninfo) {
        Some((base, query)) => {
            let mut kept = Vec::new();
            for pair in query.split('&').filter(|pair| !pair.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                if !take(&percent_decode(key)?, &percent_decode(value)?)? {
                    kept.push(pair);
                }
            }
            if kept.is_empty() {
                base.to_owned()
            } else {
                format!("{base}?{}", kept.join("&"))
            }
        }
        None if is_url(conninfo) => conninfo.to_owned(),
        None => {
            let mut kept = Vec::new();
            for (key, value, raw) in key_values(conninfo)? {
                if !take(key, &value)? {
                    kept.push(raw);
                }
            }
            kept.join(" ")
        }
    };
    Ok(Split { rest, ssl })
}

fn is_url(conninfo: &str) -> bool {
    conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://")
}

/// A URL's part before its query, and its query. Credentials end at the first
/// `@`, as tokio-postgres reads them, so a `?` in a password stays there.
fn url_query(conninfo: &str) -> Option<(&str, &str)> {
    if !is_url(conninfo) {
        return None;
    }
    let after_credentials = conninfo.find('@').map_or(0, |at| at + 1);
    let question = after_credentials + conninfo[after_credentials..].find('?')?;
    Some((&conninfo[..question], &conninfo[question + 1..]))
}

fn percent_decode(text: &str) -> Result<String, StoreError> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let byte = text
                .get(index + 1..index + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| {
                    StoreError::Config("invalid percent-encoding in the database URL".to_owned())
                })?;
            decoded.push(byte);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded)
        .map_err(|_| StoreError::Config("the database URL is not UTF-8 once decoded".to_owned()))
}

/// The `key = value` pairs of a libpq connection string: each key, its
/// unescaped value and the pair's text as written.
fn key_values(conninfo: &str) -> Result<Vec<(&str, String, &str)>, StoreError> {
    let invalid = |why: &str| StoreError::Config(format!("invalid connection string: {why}"));
    let bytes = conninfo.as_bytes();
    let mut pairs = Vec::new();
    let mut at = 0;
    loop {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if at == bytes.len() {
            return Ok(pairs);
        }
        let start = at;
        while at < bytes.len() && bytes[at] != b'=' && !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let key = &conninfo[start..at];
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if key.is_empty() || bytes.get(at) != Some(&b'=') {
            return Err(invalid("expected key=value"));
        }
        at += 1;
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let quoted = bytes.get(at) == Some(&b'\'');
        if quoted {
            at += 1;
        }
        let mut value = Vec::new();
        loop {
            match bytes.get(at) {
                None if quoted => return Err(invalid("unterminated quoted value")),
                None => break,
                Some(b'\'') if quoted => {
                    at += 1;
                    break;
                }
                Some(byte) if !quoted && byte.is_ascii_whitespace() => break,
                Some(b'\\') => {
                    if let Some(&escaped) = bytes.get(at + 1) {
                        value.push(escaped);
                    }
                    at += 2;
                }
                Some(&byte) => {
                    value.push(byte);
                    at += 1;
                }
            }
        }
        let at_end = at.min(bytes.len());
        let value = String::from_utf8(value).map_err(|_| invalid("a value is not UTF-8"))?;
        pairs.push((key, value, &conninfo[start..at_end]));
        at = at_end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_ok(conninfo: &str) -> (String, SslParams) {
        let split = split(conninfo).unwrap();
        (split.rest, split.ssl)
    }

    #[test]
    fn ssl_parameters_are_taken_and_the_rest_kept_in_urls_and_key_value_strings() {
        for (string, kept, mode, root_cert) in [
            (
                "postgres://u:p%3Fw@db.example.com:5433/inbox?application_name=a&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3",
                "postgres://u:p%3Fw@db.example.com:5433/inbox?application_name=a&connect_timeout=3",
                SslMode::VerifyFull,
                "/etc/ca.pem",
            ),
            (
                "host=db.example.com hostaddr=127.0.0.1 password='it\\'s x' sslmode = verify-ca sslrootcert='/a b/ca.pem' dbname=test",
                "host=db.example.com hostaddr=127.0.0.1 password='it\\'s x' dbname=test",
                SslMode::VerifyCa,
                "/a b/ca.pem",
            ),
        ] {
            let (rest, ssl) = split_ok(string);
            assert_eq!(rest, kept);
            assert_eq!(ssl.mode, Some(mode));
            assert_eq!(ssl.root_cert, Some(PathBuf::from(root_cert)));
        }

        let (rest, ssl) = split_ok("postgresql://h/db?sslmode=require");
        assert_eq!(
            (rest.as_str(), ssl.mode),
            ("postgresql://h/db", Some(SslMode::Require))
        );
        let (rest, ssl) = split_ok("postgres://u:a?b@h/db");
        assert_eq!(
            (rest.as_str(), ssl),
            ("postgres://u:a?b@h/db", SslParams::default())
        );
    }

    #[test]
    fn unknown_modes_and_broken_strings_are_configuration_errors() {
        for bad in [
            "postgres://h/db?sslmode=allow",
            "host=h sslmode=sometimes",
            "host='h",
            "postgres://h/db?sslmode=%zz",
        ] {
            assert!(matches!(split(bad), Err(StoreError::Config(_))), "{bad}");
        }
    }
}
