//! The macro behind the client's numeric ids ([`DeliveryId`](crate::DeliveryId),
//! and the redelivery ledger's `IntentId`): one definition of a `Copy` newtype
//! that serializes as its number.

/// Defines `pub struct $name($raw)` with `new`, `get`, `Display` and a transparent
/// `Serialize`; the caller adds what else the id needs (parsing, `Deserialize`).
macro_rules! id_newtype {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($raw:ty);
        $new_doc:literal
    ) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize,
        )]
        #[serde(transparent)]
        pub struct $name($raw);

        impl $name {
            #[doc = $new_doc]
            pub const fn new(id: $raw) -> Self {
                Self(id)
            }

            /// The raw id.
            pub const fn get(self) -> $raw {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }
    };
}
