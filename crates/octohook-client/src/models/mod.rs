//! What GitHub answers about hooks and deliveries, and what is written to it.

mod delivery;
mod hook;

pub use delivery::{
    Delivery, DeliveryCursor, DeliveryId, DeliveryOutcome, DeliveryRequest, DeliveryResponse,
    DeliverySummary, InvalidDeliveryId, InvalidDeliveryOutcome,
};
pub(crate) use hook::wire;
pub use hook::{
    CertificateCheck, ConfigUpdate, HookContentType, HookKind, HookUpdate, LastResponse, NewHook,
    RegisteredHook, RegisteredHookConfig,
};
