//! The signature headers: strict parsing, and signing for tests and tools.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

use crate::WebhookSecret;

/// How a signature header value is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureFormatError {
    /// The value does not start with the algorithm's prefix (`sha256=` or `sha1=`).
    #[error("does not start with the expected algorithm prefix")]
    WrongPrefix,
    /// The hex digest has the wrong number of characters.
    #[error("the digest has the wrong length")]
    WrongLength,
    /// The digest has a character that is not a hex digit.
    #[error("the digest is not hexadecimal")]
    NotHex,
    /// The header was sent more than once.
    #[error("the header was sent more than once")]
    Repeated,
}

/// The algorithm a delivery's signature was checked with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// HMAC-SHA256 from `X-Hub-Signature-256`.
    Sha256,
    /// HMAC-SHA1 from `X-Hub-Signature`, accepted only when explicitly enabled.
    LegacySha1,
}

/// A parsed `X-Hub-Signature-256` value: the 32-byte HMAC-SHA256 digest.
///
/// ```
/// use octohook::Signature256;
///
/// let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
/// let signature = Signature256::parse(header.as_bytes()).unwrap();
/// assert_eq!(signature.to_string(), header);
/// assert!(Signature256::parse(b"sha1=757107ea").is_err());
///
/// // Upper-case digits are the same digest; an upper-case prefix is refused.
/// let upper = "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17";
/// assert_eq!(Signature256::parse(upper.as_bytes()), Ok(signature));
/// assert!(Signature256::parse(header.to_uppercase().as_bytes()).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature256([u8; 32]);

/// A parsed legacy `X-Hub-Signature` value: the 20-byte HMAC-SHA1 digest.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature1([u8; 20]);

impl Signature256 {
    /// Parses `sha256=<64 hex digits>`; the prefix is matched exactly (lower case),
    /// the digits in either case. Nothing is trimmed: HTTP servers strip the
    /// whitespace around a header value before it gets here.
    pub fn parse(value: &[u8]) -> Result<Self, SignatureFormatError> {
        parse_digest(value, b"sha256=").map(Self)
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Signature1 {
    /// Parses `sha1=<40 hex digits>`; the prefix is matched exactly, the digits in
    /// either case.
    pub fn parse(value: &[u8]) -> Result<Self, SignatureFormatError> {
        parse_digest(value, b"sha1=").map(Self)
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

fn parse_digest<const N: usize>(
    value: &[u8],
    prefix: &[u8],
) -> Result<[u8; N], SignatureFormatError> {
    let digits = value
        .strip_prefix(prefix)
        .ok_or(SignatureFormatError::WrongPrefix)?;
    if digits.len() != 2 * N {
        return Err(SignatureFormatError::WrongLength);
    }
    // Branch-free decoding: a table lookup per digit, and one check at the end that
    // no lookup hit a non-digit (0xff). This made `Signature256::parse` about twice
    // as fast as with `hex::decode_to_slice` (benches: `headers/Signature256::parse`).
    let mut digest = [0u8; N];
    let mut invalid = 0u8;
    for (byte, pair) in digest.iter_mut().zip(digits.chunks_exact(2)) {
        let (high, low) = (
            HEX_VALUES[usize::from(pair[0])],
            HEX_VALUES[usize::from(pair[1])],
        );
        invalid |= high | low;
        *byte = (high << 4) | low;
    }
    if invalid > 0x0f {
        return Err(SignatureFormatError::NotHex);
    }
    Ok(digest)
}

/// The value of each byte as a hex digit (either case), 0xff for any other byte.
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 16 {
        let value = i as u8;
        table[b"0123456789abcdef"[i] as usize] = value;
        table[b"0123456789ABCDEF"[i] as usize] = value;
        i += 1;
    }
    table
};

/// `Display` as the header value (`sha256=<hex>`), `Debug` as the type around it
/// (`Signature256(sha256=<hex>)`).
macro_rules! signature_formatting {
    ($($signature:ident => $prefix:literal),+) => {$(
        impl fmt::Display for $signature {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), hex::encode(self.0))
            }
        }

        impl fmt::Debug for $signature {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($signature), "({})"), self)
            }
        }
    )+};
}

signature_formatting!(Signature256 => "sha256=", Signature1 => "sha1=");

/// Signs `body` as GitHub does and returns the `X-Hub-Signature-256` header value.
///
/// For tests, benches and tools that produce deliveries; a receiver verifies with a
/// [`Verifier`](crate::Verifier) instead of comparing strings.
///
/// ```
/// use octohook::{sign, WebhookSecret};
///
/// let secret = WebhookSecret::new("It's a Secret to Everybody").unwrap();
/// assert_eq!(
///     sign(&secret, b"Hello, World!"),
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
/// );
/// ```
pub fn sign(secret: &WebhookSecret, body: &[u8]) -> String {
    let mut mac = sha256_key(secret);
    mac.update(body);
    Signature256(mac.finalize().into_bytes().into()).to_string()
}

/// Signs `body` with HMAC-SHA1 and returns the legacy `X-Hub-Signature` header value.
///
/// GitHub still sends this header beside `X-Hub-Signature-256`; only use it to
/// produce deliveries for receivers that verify the legacy header.
pub fn sign_legacy_sha1(secret: &WebhookSecret, body: &[u8]) -> String {
    let mut mac = sha1_key(secret);
    mac.update(body);
    Signature1(mac.finalize().into_bytes().into()).to_string()
}

/// Incremental signing, for bodies too large to hold in memory.
///
/// ```
/// use octohook::{sign, Signer, WebhookSecret};
///
/// let secret = WebhookSecret::new("s3cret").unwrap();
/// let mut signer = Signer::new(&secret);
/// signer.update(b"Hello, ");
/// signer.update(b"World!");
/// assert_eq!(signer.finish(), sign(&secret, b"Hello, World!"));
/// ```
#[derive(Clone)]
pub struct Signer(Hmac<Sha256>);

impl Signer {
    /// Starts signing with `secret`.
    pub fn new(secret: &WebhookSecret) -> Self {
        Self(sha256_key(secret))
    }

    /// Feeds the next bytes of the body.
    pub fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    /// Returns the `X-Hub-Signature-256` header value for everything fed so far.
    pub fn finish(self) -> String {
        Signature256(self.0.finalize().into_bytes().into()).to_string()
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

pub(crate) fn sha256_key(secret: &WebhookSecret) -> Hmac<Sha256> {
    Hmac::new_from_slice(secret.expose_bytes()).expect("HMAC accepts keys of any length")
}

pub(crate) fn sha1_key(secret: &WebhookSecret) -> Hmac<Sha1> {
    Hmac::new_from_slice(secret.expose_bytes()).expect("HMAC accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reports_each_kind_of_malformation() {
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(Signature256::parse(good.as_bytes()).is_ok());
        assert!(
            Signature256::parse(good.to_uppercase().replace("SHA256", "sha256").as_bytes()).is_ok()
        );
        let cases: [(&str, SignatureFormatError); 6] = [
            ("", SignatureFormatError::WrongPrefix),
            ("SHA256=757107ea", SignatureFormatError::WrongPrefix),
            (
                "sha1=757107ea0eb2509fc211221cce984b8a37570b6d",
                SignatureFormatError::WrongPrefix,
            ),
            ("sha256=757107ea", SignatureFormatError::WrongLength),
            (
                " sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                SignatureFormatError::WrongPrefix,
            ),
            (
                "sha256=z57107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                SignatureFormatError::NotHex,
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(
                Signature256::parse(value.as_bytes()),
                Err(expected),
                "{value:?}"
            );
        }
    }

    #[test]
    fn every_byte_in_every_digit_position_decodes_like_the_hex_crate() {
        let good = *b"757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        for position in [0, 1, 31, 62, 63] {
            for byte in 0..=u8::MAX {
                let mut digits = good;
                digits[position] = byte;
                let mut value = b"sha256=".to_vec();
                value.extend_from_slice(&digits);
                let mut expected = [0u8; 32];
                let expected = hex::decode_to_slice(digits, &mut expected).map(|()| expected);
                match (Signature256::parse(&value), expected) {
                    (Ok(parsed), Ok(expected)) => assert_eq!(parsed.as_bytes(), &expected),
                    (Err(error), Err(_)) => assert_eq!(error, SignatureFormatError::NotHex),
                    (parsed, expected) => panic!("{byte:#04x}: {parsed:?} vs {expected:?}"),
                }
            }
        }
    }

    #[test]
    fn sha1_parse_checks_its_own_prefix_and_length() {
        assert!(Signature1::parse(b"sha1=126f2c800419c60137ce748d7672e77b65cf16d6").is_ok());
        assert_eq!(
            Signature1::parse(b"sha1=126f2c80"),
            Err(SignatureFormatError::WrongLength)
        );
    }

    #[test]
    fn signatures_display_as_the_header_and_debug_as_their_type() {
        let sha1 = "sha1=126f2c800419c60137ce748d7672e77b65cf16d6";
        let signature = Signature1::parse(sha1.as_bytes()).unwrap();
        assert_eq!(signature.to_string(), sha1);
        assert_eq!(format!("{signature:?}"), format!("Signature1({sha1})"));
        let sha256 = format!("sha256={}", "0a".repeat(32));
        let signature = Signature256::parse(sha256.as_bytes()).unwrap();
        assert_eq!(signature.to_string(), sha256);
        assert_eq!(format!("{signature:?}"), format!("Signature256({sha256})"));
    }
}
