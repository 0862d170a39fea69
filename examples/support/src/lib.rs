//! What the receiver examples share, so that each example's `main` shows only
//! what is particular to its framework.
//!
//! - [`ReceiverEnv`]: the log subscriber, and the hook's secret and the address to
//!   listen on, from the environment;
//! - [`InboxEnv`] and [`print_deliveries`] (feature `inbox`): the inbox's file and
//!   read timeout, and the workers that print each stored delivery.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod env;
#[cfg(feature = "inbox")]
mod printing;

#[cfg(feature = "inbox")]
pub use env::InboxEnv;
pub use env::ReceiverEnv;
#[cfg(feature = "inbox")]
pub use printing::print_deliveries;
