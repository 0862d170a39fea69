//! Ready-made [`Handler`]s, and [`Chain`] to run several on each delivery.
//!
//! Every way of processing a stored delivery plugs into a worker the same way, as
//! a [`Handler`]:
//!
//! | handler | does | feature |
//! | --- | --- | --- |
//! | [`Dispatch`] | runs a typed [`Dispatcher`](octohook::Dispatcher) | `events` (default) |
//! | [`JsonLines`] | writes one JSON line per delivery (`octohook serve --out`) | |
//! | [`Exec`] | runs a command with the payload on its standard input (`--exec`) | `exec` |
//! | [`Forward`] | posts the delivery, headers and body as received, to a URL (`--forward`) | `forward` |
//! | any `Fn(StoredDelivery) -> impl Future<Output = Result<(), AttemptError>>` | your code | |

mod chain;
#[cfg(feature = "events")]
mod dispatch;
#[cfg(feature = "exec")]
mod exec;
#[cfg(feature = "forward")]
mod forward;
mod json_lines;

pub use chain::Chain;
#[cfg(feature = "events")]
pub use dispatch::Dispatch;
#[cfg(feature = "exec")]
pub use exec::Exec;
#[cfg(feature = "forward")]
pub use forward::{Forward, ForwardError};
pub use json_lines::JsonLines;

#[allow(unused_imports)] // Links of the table above.
use crate::{AttemptError, Handler, StoredDelivery};
