//! Byte counts in configuration and on the command line: `26214400`, `25MiB`,
//! `25 MiB`, `512KiB`, `1GB`.
//!
//! `KB`, `MB`, `GB` and `TB` are powers of 1000; `KiB`, `MiB`, `GiB` and `TiB`
//! powers of 1024; `B` (or no unit) is bytes. Units are case-insensitive; a value is
//! a whole number (`1.5MiB` is refused rather than rounded).

use std::fmt;
use std::str::FromStr;

/// A number of bytes, parsed from `26214400`, `25MiB`, `25 MiB` or `1GB`, and
/// shown in the largest unit that divides it (`25MiB`).
///
/// `KB`, `MB`, `GB` and `TB` are powers of 1000; `KiB`, `MiB`, `GiB` and `TiB`
/// powers of 1024; units are case-insensitive, and a value is a whole number.
///
/// ```
/// use octohook_server::ByteSize;
///
/// let size: ByteSize = "25MiB".parse().unwrap();
/// assert_eq!(size.bytes(), 25 * 1024 * 1024);
/// assert_eq!(ByteSize::new(2_000_000).to_string(), "2MB");
/// assert!("1.5MiB".parse::<ByteSize>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(u64);

/// Why a size did not parse.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ByteSizeError {
    /// No whole number leads the text.
    #[error("a size is a whole number of bytes with an optional unit, such as 25MiB or 1GB")]
    NoNumber,
    /// The unit is not one of those listed in the message.
    #[error(
        "unknown unit {0:?}: use B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (of 1024)"
    )]
    UnknownUnit(String),
    /// The number of bytes does not fit in a `u64`.
    #[error("the size does not fit in 64 bits")]
    TooLarge,
}

/// The units, largest first within each family, as shown.
const UNITS: [(&str, u64); 9] = [
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("TB", 1_000_000_000_000),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("KB", 1_000),
    ("B", 1),
];

impl ByteSize {
    /// `bytes` bytes.
    pub const fn new(bytes: u64) -> Self {
        Self(bytes)
    }

    /// The number of bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = ByteSizeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let digits = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        if digits == 0 {
            return Err(ByteSizeError::NoNumber);
        }
        let number: u64 = text[..digits]
            .parse()
            .map_err(|_| ByteSizeError::TooLarge)?;
        let unit = text[digits..].trim_start();
        let multiplier = if unit.is_empty() {
            1
        } else if unit.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == ',') {
            return Err(ByteSizeError::NoNumber);
        } else {
            UNITS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(unit))
                .map(|&(_, multiplier)| multiplier)
                .ok_or_else(|| ByteSizeError::UnknownUnit(unit.to_owned()))?
        };
        number
            .checked_mul(multiplier)
            .map(Self)
            .ok_or(ByteSizeError::TooLarge)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (unit, multiplier) = UNITS
            .iter()
            .find(|&&(_, multiplier)| self.0 != 0 && self.0.is_multiple_of(multiplier))
            .copied()
            .unwrap_or(("B", 1));
        if multiplier == 1 {
            write!(formatter, "{}", self.0)
        } else {
            write!(formatter, "{}{unit}", self.0 / multiplier)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<u64, ByteSizeError> {
        text.parse::<ByteSize>().map(ByteSize::bytes)
    }

    #[test]
    fn binary_and_decimal_units() {
        assert_eq!(parse("26214400"), Ok(26_214_400));
        assert_eq!(parse("25MiB"), Ok(26_214_400));
        assert_eq!(parse("25 MiB"), Ok(26_214_400));
        assert_eq!(parse("25mib"), Ok(26_214_400));
        assert_eq!(parse("512KiB"), Ok(524_288));
        assert_eq!(parse("1GB"), Ok(1_000_000_000));
        assert_eq!(parse("1GiB"), Ok(1_073_741_824));
        assert_eq!(parse("2kb"), Ok(2_000));
        assert_eq!(parse("7B"), Ok(7));
        assert_eq!(parse("0"), Ok(0));
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert_eq!(parse(""), Err(ByteSizeError::NoNumber));
        assert_eq!(parse("MiB"), Err(ByteSizeError::NoNumber));
        assert_eq!(parse("-1"), Err(ByteSizeError::NoNumber));
        assert_eq!(parse("1.5MiB"), Err(ByteSizeError::NoNumber));
        assert_eq!(parse("25 M"), Err(ByteSizeError::UnknownUnit("M".into())));
        assert_eq!(
            parse("25 MiBs"),
            Err(ByteSizeError::UnknownUnit("MiBs".into()))
        );
        assert_eq!(parse("1 2"), Err(ByteSizeError::NoNumber));
        assert_eq!(parse("99999999999999999999"), Err(ByteSizeError::TooLarge));
        assert_eq!(parse("20000000TiB"), Err(ByteSizeError::TooLarge));
    }

    #[test]
    fn shown_in_the_largest_exact_unit() {
        assert_eq!(ByteSize::new(25 << 20).to_string(), "25MiB");
        assert_eq!(ByteSize::new(256 << 20).to_string(), "256MiB");
        assert_eq!(ByteSize::new(1 << 30).to_string(), "1GiB");
        assert_eq!(ByteSize::new(2_000_000).to_string(), "2MB");
        assert_eq!(ByteSize::new(1_500).to_string(), "1500");
        assert_eq!(ByteSize::new(0).to_string(), "0");
        for bytes in [0, 1, 1_024, 1_000, 26_214_400, 123_456_789, u64::MAX] {
            let shown = ByteSize::new(bytes).to_string();
            assert_eq!(parse(&shown), Ok(bytes), "{shown}");
        }
    }
}
