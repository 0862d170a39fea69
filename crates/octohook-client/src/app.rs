//! The GitHub App's own hook, `/app/hook/...`.

use crate::client::Client;
use crate::deliveries::Deliveries;
use crate::error::ClientError;
use crate::models::{ConfigUpdate, RegisteredHookConfig};
use crate::target::{HookRef, Route};

/// The hook of the GitHub App the client authenticates as (with
/// [`AppJwt`](crate::AppJwt)), from [`Client::app_hook`].
///
/// ```no_run
/// use octohook_client::{AppJwt, Client, ClientOptions, DeliveryQuery};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::new(AppJwt::from_pem_file("123456", "app.pem")?, ClientOptions::default())?;
/// let page = client.app_hook().deliveries().page(&DeliveryQuery::default()).await?;
/// println!("{} deliveries", page.items.len());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AppHook {
    client: Client,
}

impl AppHook {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// The hook's configuration.
    pub async fn config(&self) -> Result<RegisteredHookConfig, ClientError> {
        self.client.hook_config(&HookRef::App).await
    }

    /// Changes single configuration settings, leaving the others as they are.
    pub async fn update_config(
        &self,
        update: &ConfigUpdate,
    ) -> Result<RegisteredHookConfig, ClientError> {
        self.client.update_hook_config(&HookRef::App, update).await
    }

    /// The hook's deliveries.
    pub fn deliveries(&self) -> Deliveries {
        Deliveries::new(self.client.clone(), Route::app_hook())
    }
}
