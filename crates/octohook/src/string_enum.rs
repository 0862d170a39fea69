//! The macro behind every string enum: the generated ones of the events,
//! [`TargetType`](crate::TargetType), and the enums of `octohook-client`'s models.
//!
//! The module and the macro are hidden from the documentation: they are how this
//! workspace's crates define their string enums, not an API for applications,
//! and their syntax may change with any release. The enums they define are the
//! API, and each documents itself.

/// Serde, as the macro's expansion names it, so that a crate using the macro
/// needs no `serde` of its own at the same version.
pub use serde;

/// Defines a string enum whose values outside the list deserialize to
/// `Unknown(String)` instead of failing.
///
/// The enum derives `Clone`, `Debug`, `PartialEq`, `Eq`, `Hash`, `PartialOrd` and
/// `Ord`, is `#[non_exhaustive]`, and gets `KNOWN`, `as_str`, `from_value`,
/// `is_unknown`, `Display`, `Serialize` (as its string) and `Deserialize`.
///
/// An enum whose values GitHub sends as a string or as a number (`"0"` or `0`)
/// has `#[string_enum(accept_numbers)]` after its documentation: a number is then
/// read as its decimal text. Other attributes, such as `#[derive(Default)]`, pass
/// through.
///
/// ```
/// octohook::string_enum! {
///     /// How a setting is written.
///     #[string_enum(accept_numbers)]
///     pub enum Switch {
///         /// `0`
///         Off = "0",
///         /// `1`
///         On = "1",
///     }
/// }
///
/// assert_eq!(serde_json::from_str::<Switch>("1").unwrap(), Switch::On);
/// assert_eq!(serde_json::from_str::<Switch>(r#""0""#).unwrap(), Switch::Off);
/// assert_eq!(Switch::from_value("2"), Switch::Unknown("2".to_owned()));
/// assert_eq!(serde_json::to_string(&Switch::On).unwrap(), r#""1""#);
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! string_enum {
    (
        $(#[doc = $doc:literal])*
        #[string_enum(accept_numbers)]
        $($rest:tt)*
    ) => {
        $crate::string_enum! {
            @define [true, deserialize_any] $(#[doc = $doc])* $($rest)*
        }
    };
    (
        @define [$numbers:literal, $read:ident]
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = $value:literal,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[$variant_meta])*
                $variant,
            )*
            /// A value this version does not know, as sent.
            Unknown(String),
        }

        impl $name {
            /// Every value this version knows.
            pub const KNOWN: &'static [Self] = &[$(Self::$variant,)*];

            /// The value as GitHub sends it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $value,)*
                    Self::Unknown(value) => value,
                }
            }

            /// The variant for a value; unknown values become `Unknown`.
            pub fn from_value(value: &str) -> Self {
                match value {
                    $($value => Self::$variant,)*
                    other => Self::Unknown(other.to_owned()),
                }
            }

            /// Whether this is a value this version does not know.
            pub fn is_unknown(&self) -> bool {
                matches!(self, Self::Unknown(_))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> $crate::string_enum::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::string_enum::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                deserializer.$read($crate::string_enum::StrVisitor {
                    map: Self::from_value,
                    numbers: $numbers,
                })
            }
        }

        impl $crate::string_enum::serde::Serialize for $name {
            fn serialize<S: $crate::string_enum::serde::Serializer>(
                &self,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
    ($($enum:tt)*) => {
        $crate::string_enum! { @define [false, deserialize_str] $($enum)* }
    };
}

/// Reads a string (borrowed or not) and maps it with a function: one visitor for all
/// string enums, so each enum's expansion stays small. With `numbers`, it also
/// takes a number, as its decimal text, for values GitHub sends either way.
#[derive(Debug)]
pub struct StrVisitor<T> {
    /// The enum's `from_value`.
    pub map: fn(&str) -> T,
    /// Whether a number is read as its text rather than refused.
    pub numbers: bool,
}

impl<T> StrVisitor<T> {
    fn number<E: serde::de::Error>(
        self,
        text: impl FnOnce() -> String,
        found: serde::de::Unexpected<'_>,
    ) -> Result<T, E> {
        if self.numbers {
            Ok((self.map)(&text()))
        } else {
            Err(E::invalid_type(found, &self))
        }
    }
}

impl<T> serde::de::Visitor<'_> for StrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.numbers {
            "a string or a number"
        } else {
            "a string"
        })
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<T, E> {
        Ok((self.map)(value))
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<T, E> {
        self.number(|| value.to_string(), serde::de::Unexpected::Unsigned(value))
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<T, E> {
        self.number(|| value.to_string(), serde::de::Unexpected::Signed(value))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<T, E> {
        // As JSON writes it (`1.0`, `0.5`), so a float keeps the text it had.
        let text = || {
            serde_json::Number::from_f64(value)
                .map_or_else(|| value.to_string(), |number| number.to_string())
        };
        self.number(text, serde::de::Unexpected::Float(value))
    }
}
