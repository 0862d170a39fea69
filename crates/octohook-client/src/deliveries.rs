//! A hook's deliveries: listing by cursor, details, and redelivery.

use futures_util::Stream;
use reqwest::Method;

use crate::client::{Client, Request};
use crate::error::ClientError;
use crate::models::{Delivery, DeliveryCursor, DeliveryId, DeliveryOutcome, DeliverySummary};
use crate::page::{self, Page};
use crate::retry::Idempotence;
use crate::target::Route;

/// Which deliveries to list, and from where. A plain struct; the default lists
/// every delivery, newest first, 100 per request.
///
/// ```
/// use octohook_client::{DeliveryQuery, DeliveryOutcome};
///
/// let failed = DeliveryQuery { status: Some(DeliveryOutcome::Failure), ..DeliveryQuery::default() };
/// assert_eq!(failed.per_page, 100);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryQuery {
    /// Deliveries per request, 1–100. Default: 100, GitHub's maximum.
    pub per_page: u8,
    /// Where to start: a [`Page::next`] from an earlier page. Default: the newest.
    pub cursor: Option<DeliveryCursor>,
    /// Only successes (2xx–3xx) or failures (4xx–5xx), filtered by GitHub.
    /// Default: both.
    pub status: Option<DeliveryOutcome>,
    /// Only redeliveries (`true`) or first attempts (`false`). GitHub is asked to
    /// filter and the client filters again, since not every GitHub version
    /// honours it; a page may then hold fewer than `per_page` items.
    /// Default: both.
    pub redelivery: Option<bool>,
}

impl Default for DeliveryQuery {
    fn default() -> Self {
        Self {
            per_page: 100,
            cursor: None,
            status: None,
            redelivery: None,
        }
    }
}

/// The deliveries of one hook, from [`Hooks::deliveries`](crate::Hooks::deliveries)
/// or [`AppHook::deliveries`](crate::AppHook::deliveries).
///
/// Scanning page by page, resuming from a stored cursor:
///
/// ```no_run
/// use octohook::HookId;
/// use octohook_client::{Client, ClientOptions, DeliveryQuery, DeliveryOutcome, Token};
///
/// # async fn run() -> Result<(), octohook_client::ClientError> {
/// let client = Client::new(Token::from_env("GITHUB_TOKEN")?, ClientOptions::default())?;
/// let deliveries = client.repo_hooks("octo-org", "hello-world").deliveries(HookId::new(1));
/// let mut query = DeliveryQuery { status: Some(DeliveryOutcome::Failure), ..DeliveryQuery::default() };
/// loop {
///     let page = deliveries.page(&query).await?;
///     for delivery in &page.items {
///         deliveries.redeliver(delivery.id).await?;
///     }
///     match page.next {
///         Some(next) => query.cursor = Some(next),
///         None => break,
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Deliveries {
    client: Client,
    hook: Route,
}

impl Deliveries {
    pub(crate) fn new(client: Client, hook: Route) -> Self {
        Self { client, hook }
    }

    /// One page of deliveries, newest first; [`Page::next`] is the cursor of the
    /// next (older) page, from the `Link` header.
    pub async fn page(
        &self,
        query: &DeliveryQuery,
    ) -> Result<Page<DeliverySummary, DeliveryCursor>, ClientError> {
        let route = self.hook.clone().join("deliveries");
        let mut request =
            Request::new(Method::GET, &route).query("per_page", query.per_page.clamp(1, 100));
        if let Some(cursor) = &query.cursor {
            request = request.query("cursor", cursor.as_str());
        }
        if let Some(status) = query.status {
            request = request.query("status", status.as_str());
        }
        if let Some(redelivery) = query.redelivery {
            request = request.query("redelivery", redelivery);
        }
        let response = self.client.send(request).await?;
        let mut items: Vec<DeliverySummary> = response.json()?;
        if let Some(redelivery) = query.redelivery {
            items.retain(|delivery| delivery.redelivery == redelivery);
        }
        let next = response
            .header("link")
            .and_then(|link| page::next_query_param(link, "cursor"))
            .map(DeliveryCursor::new);
        Ok(Page { items, next })
    }

    /// Every delivery matching `query`, newest first, fetched page by page as the
    /// stream is polled.
    pub fn stream(
        &self,
        query: DeliveryQuery,
    ) -> impl Stream<Item = Result<DeliverySummary, ClientError>> + Send + 'static {
        let deliveries = self.clone();
        page::items(query.cursor.clone(), move |cursor| {
            let deliveries = deliveries.clone();
            let query = DeliveryQuery {
                cursor,
                ..query.clone()
            };
            async move {
                let page = deliveries.page(&query).await?;
                Ok(Page {
                    items: page.items,
                    // `None` is the first page's cursor, so wrap the next one to tell
                    // "start" from "done".
                    next: page.next.map(Some),
                })
            }
        })
    }

    /// One delivery with its request and response.
    pub async fn get(&self, id: DeliveryId) -> Result<Delivery, ClientError> {
        let route = self.hook.clone().join("deliveries").join(id.to_string());
        self.client
            .send(Request::new(Method::GET, &route))
            .await?
            .json()
    }

    /// Asks GitHub to deliver `id` again (`POST …/deliveries/{id}/attempts`); GitHub
    /// answers 202 and delivers later, as a new delivery with the same GUID.
    pub async fn redeliver(&self, id: DeliveryId) -> Result<(), ClientError> {
        // Retried on 5xx: a second redelivery is harmless, receivers deduplicate
        // on the GUID.
        self.request_redelivery(id, Idempotence::Safe).await
    }

    /// `POST …/deliveries/{id}/attempts`, retried as `idempotence` allows: the
    /// redelivery runner, which must know whether GitHub may have acted, retries
    /// nothing GitHub may have acted on.
    pub(crate) async fn request_redelivery(
        &self,
        id: DeliveryId,
        idempotence: Idempotence,
    ) -> Result<(), ClientError> {
        let route = self
            .hook
            .clone()
            .join("deliveries")
            .join(id.to_string())
            .join("attempts");
        let request = Request::new(Method::POST, &route).idempotence(idempotence);
        self.client.send(request).await.map(drop)
    }
}
