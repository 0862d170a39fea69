//! Repository and organization hooks: CRUD, configuration, ping, test, and
//! idempotent registration.

use std::collections::BTreeSet;

use futures_util::{Stream, TryStreamExt};
use octohook::{EventKind, HookId, WebhookSecret};
use reqwest::Method;

use crate::client::{Client, Request};
use crate::deliveries::Deliveries;
use crate::error::ClientError;
use crate::models::{
    CertificateCheck, ConfigUpdate, HookContentType, HookUpdate, NewHook, RegisteredHook,
    RegisteredHookConfig, wire,
};
use crate::page::{self, Page};
use crate::retry::Idempotence;
use crate::target::{HookRef, HookTarget};

/// Hooks listed per request by [`Hooks::list`] and [`Hooks::stream`]: GitHub's
/// maximum, so most owners need a single request.
const LIST_PER_PAGE: u8 = 100;

/// The hooks of one repository or organization, from
/// [`Client::repo_hooks`], [`Client::org_hooks`] or [`Client::hooks`].
///
/// ```no_run
/// use octohook::HookId;
/// use octohook_client::{Client, ClientOptions, Token};
///
/// # async fn run() -> Result<(), octohook_client::ClientError> {
/// let client = Client::new(Token::from_env("GITHUB_TOKEN")?, ClientOptions::default())?;
/// let hooks = client.org_hooks("octo-org");
/// let hook = hooks.get(HookId::new(1)).await?;
/// hooks.ping(hook.id).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Hooks {
    client: Client,
    target: HookTarget,
}

/// What [`Hooks::ensure`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EnsureAction {
    /// No hook had the URL; one was created.
    Created,
    /// A hook had the URL but other events or settings; it was updated.
    Updated,
    /// A hook had the URL and the settings already.
    Unchanged,
}

/// The outcome of [`Hooks::ensure`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EnsuredHook {
    /// The hook as it now is.
    pub hook: RegisteredHook,
    /// What was done to it.
    pub action: EnsureAction,
}

impl Hooks {
    pub(crate) fn new(client: Client, target: HookTarget) -> Self {
        Self { client, target }
    }

    /// The repository or organization.
    pub fn target(&self) -> &HookTarget {
        &self.target
    }

    /// One page of hooks: `per_page` (1–100) from page `page` (from 1);
    /// [`Page::next`] is the next page's number.
    pub async fn page(
        &self,
        per_page: u8,
        page: u32,
    ) -> Result<Page<RegisteredHook, u32>, ClientError> {
        let route = self.target.hooks_route();
        let response = self
            .client
            .send(
                Request::new(Method::GET, &route)
                    .query("per_page", per_page.clamp(1, 100))
                    .query("page", page.max(1)),
            )
            .await?;
        let items = response.json()?;
        let next = response
            .header("link")
            .and_then(|link| page::next_query_param(link, "page"))
            .and_then(|page| page.parse().ok());
        Ok(Page { items, next })
    }

    /// Every hook, fetched page by page as the stream is polled.
    pub fn stream(
        &self,
    ) -> impl Stream<Item = Result<RegisteredHook, ClientError>> + Send + 'static {
        let hooks = self.clone();
        page::items(1, move |number| {
            let hooks = hooks.clone();
            async move { hooks.page(LIST_PER_PAGE, number).await }
        })
    }

    /// Every hook. Owners have few (GitHub allows 20 per event per owner), so this
    /// is usually one request.
    pub async fn list(&self) -> Result<Vec<RegisteredHook>, ClientError> {
        self.stream().try_collect().await
    }

    /// Creates a hook.
    ///
    /// A 5xx answer is not retried, since GitHub may have created the hook anyway;
    /// [`Hooks::ensure`] is the way to register safely.
    pub async fn create(&self, hook: &NewHook) -> Result<RegisteredHook, ClientError> {
        let route = self.target.hooks_route();
        let request = Request::new(Method::POST, &route).json(&wire::CreateHook::new(hook)?)?;
        self.client.send(request).await?.json()
    }

    /// One hook.
    pub async fn get(&self, id: HookId) -> Result<RegisteredHook, ClientError> {
        let route = self.target.hook_route(id);
        self.client
            .send(Request::new(Method::GET, &route))
            .await?
            .json()
    }

    /// Updates a hook.
    ///
    /// GitHub documents `add_events` and `remove_events` for repository hooks only;
    /// for an organization hook they are applied to the hook's current events
    /// (read first), and the resulting list is written.
    pub async fn update(
        &self,
        id: HookId,
        update: &HookUpdate,
    ) -> Result<RegisteredHook, ClientError> {
        let route = self.target.hook_route(id);
        let resolved;
        let update = match &self.target {
            HookTarget::Organization { .. }
                if !update.add_events.is_empty() || !update.remove_events.is_empty() =>
            {
                let base = match &update.events {
                    Some(events) => events.clone(),
                    None => self.get(id).await?.events,
                };
                resolved = HookUpdate {
                    events: Some(apply_event_changes(
                        base,
                        &update.add_events,
                        &update.remove_events,
                    )),
                    add_events: Vec::new(),
                    remove_events: Vec::new(),
                    ..update.clone()
                };
                &resolved
            }
            _ => update,
        };
        let request = Request::new(Method::PATCH, &route).json(&wire::UpdateHook::new(update)?)?;
        self.client.send(request).await?.json()
    }

    /// Deletes a hook.
    pub async fn delete(&self, id: HookId) -> Result<(), ClientError> {
        let route = self.target.hook_route(id);
        self.client
            .send(Request::new(Method::DELETE, &route))
            .await?;
        Ok(())
    }

    /// A hook's configuration alone.
    pub async fn config(&self, id: HookId) -> Result<RegisteredHookConfig, ClientError> {
        self.client.hook_config(&self.hook_ref(id)).await
    }

    /// Changes single configuration settings, leaving the others (the secret
    /// included) as they are.
    pub async fn update_config(
        &self,
        id: HookId,
        update: &ConfigUpdate,
    ) -> Result<RegisteredHookConfig, ClientError> {
        self.client
            .update_hook_config(&self.hook_ref(id), update)
            .await
    }

    fn hook_ref(&self, id: HookId) -> HookRef {
        HookRef::hook(self.target.clone(), id)
    }

    /// The deliveries of a hook.
    pub fn deliveries(&self, id: HookId) -> Deliveries {
        Deliveries::new(self.client.clone(), self.target.hook_route(id))
    }

    /// Makes GitHub send a `ping` event to the hook.
    pub async fn ping(&self, id: HookId) -> Result<(), ClientError> {
        let route = self.target.hook_route(id).join("pings");
        // A repeated ping is harmless: receivers deduplicate on the delivery GUID.
        let request = Request::new(Method::POST, &route).idempotence(Idempotence::Safe);
        self.client.send(request).await?;
        Ok(())
    }

    /// Makes GitHub send the latest push to a repository hook (if it is subscribed
    /// to `push`). Organization hooks have no such endpoint: this fails with
    /// [`ClientError::InvalidInput`] without sending anything.
    pub async fn test(&self, id: HookId) -> Result<(), ClientError> {
        if !matches!(self.target, HookTarget::Repository { .. }) {
            return Err(ClientError::InvalidInput(format!(
                "GitHub can test repository hooks only, not those of the {}",
                self.target
            )));
        }
        let route = self.target.hook_route(id).join("tests");
        let request = Request::new(Method::POST, &route).idempotence(Idempotence::Safe);
        self.client.send(request).await?;
        Ok(())
    }

    /// Registers `url` idempotently, for a service's start-up.
    ///
    /// - The hook with this URL (the lowest id, if several) is kept; when its
    ///   events, content type or activity differ, or it has no secret while
    ///   `secret` is given, it is updated. Only the differing part is written,
    ///   so an unchanged secret is never touched.
    /// - Otherwise a hook is created. Then the list is read again: if another
    ///   instance of the service created one with the same URL at the same time
    ///   and got a lower id, this call deletes its own and adopts that one, so
    ///   concurrent instances end up sharing a single hook.
    ///
    /// GitHub never reveals a secret, so a *changed* secret cannot be detected:
    /// rotate it with [`Hooks::update_config`].
    pub async fn ensure(
        &self,
        url: &str,
        events: &[EventKind],
        secret: Option<&WebhookSecret>,
        content_type: HookContentType,
    ) -> Result<EnsuredHook, ClientError> {
        let desired = Desired {
            url,
            events,
            secret,
            content_type,
        };
        if let Some(existing) = self.find_by_url(url).await?.into_iter().next() {
            return self.reconcile(existing, &desired).await;
        }
        let mut new = NewHook::new(url);
        new.events = events.to_vec();
        new.content_type = Some(desired.content_type.clone());
        new.secret = secret.cloned();
        new.insecure_ssl = Some(CertificateCheck::Verify);
        let created = match self.create(&new).await {
            Ok(created) => created,
            // GitHub refuses a second hook with an identical config: someone was
            // faster. Adopt theirs.
            Err(ClientError::Validation(rejected)) => {
                return match self.find_by_url(url).await?.into_iter().next() {
                    Some(existing) => self.reconcile(existing, &desired).await,
                    None => Err(ClientError::Validation(rejected)),
                };
            }
            Err(error) => return Err(error),
        };
        let same_url = self.find_by_url(url).await?;
        match same_url.first() {
            Some(oldest) if oldest.id != created.id => {
                let keep = oldest.clone();
                match self.delete(created.id).await {
                    Ok(()) | Err(ClientError::NotFound(_)) => {}
                    Err(error) => return Err(error),
                }
                tracing::info!(hook = %keep.id, target = %self.target, "another instance registered the hook first; using its hook");
                self.reconcile(keep, &desired).await
            }
            _ => Ok(EnsuredHook {
                hook: created,
                action: EnsureAction::Created,
            }),
        }
    }

    /// The hooks whose URL is `url`, lowest id first.
    async fn find_by_url(&self, url: &str) -> Result<Vec<RegisteredHook>, ClientError> {
        let mut found: Vec<RegisteredHook> = self
            .stream()
            .try_filter(|hook| std::future::ready(hook.config.url.as_deref() == Some(url)))
            .try_collect()
            .await?;
        found.sort_by_key(|hook| hook.id);
        Ok(found)
    }

    async fn reconcile(
        &self,
        mut hook: RegisteredHook,
        desired: &Desired<'_>,
    ) -> Result<EnsuredHook, ClientError> {
        let want_events: BTreeSet<&EventKind> = desired.events.iter().collect();
        let have_events: BTreeSet<&EventKind> = hook.events.iter().collect();
        let events_differ = want_events != have_events || !hook.active;
        let config_differs = hook
            .config
            .content_type
            .as_ref()
            .unwrap_or(&HookContentType::Form)
            != &desired.content_type
            || hook
                .config
                .insecure_ssl
                .as_ref()
                .is_some_and(|check| *check != CertificateCheck::Verify)
            || (desired.secret.is_some() && !hook.config.has_secret);
        if !events_differ && !config_differs {
            return Ok(EnsuredHook {
                hook,
                action: EnsureAction::Unchanged,
            });
        }
        if events_differ {
            // Without `config`, GitHub leaves the configuration, secret included,
            // as it is.
            let update = HookUpdate {
                events: Some(desired.events.to_vec()),
                active: Some(true),
                ..HookUpdate::default()
            };
            hook = self.update(hook.id, &update).await?;
        }
        if config_differs {
            let update = ConfigUpdate {
                url: Some(desired.url.to_owned()),
                content_type: Some(desired.content_type.clone()),
                secret: desired.secret.cloned(),
                insecure_ssl: Some(CertificateCheck::Verify),
            };
            hook.config = self.update_config(hook.id, &update).await?;
        }
        tracing::info!(hook = %hook.id, target = %self.target, events_differ, config_differs, "updated webhook");
        Ok(EnsuredHook {
            hook,
            action: EnsureAction::Updated,
        })
    }
}

struct Desired<'a> {
    url: &'a str,
    events: &'a [EventKind],
    secret: Option<&'a WebhookSecret>,
    content_type: HookContentType,
}

/// `events` plus `add`, minus `remove`, without duplicates, in first-seen order.
fn apply_event_changes(
    events: Vec<EventKind>,
    add: &[EventKind],
    remove: &[EventKind],
) -> Vec<EventKind> {
    let mut result: Vec<EventKind> = Vec::with_capacity(events.len() + add.len());
    for event in events.into_iter().chain(add.iter().cloned()) {
        if !remove.contains(&event) && !result.contains(&event) {
            result.push(event);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_changes_add_then_remove_without_duplicates() {
        let result = apply_event_changes(
            vec![EventKind::Push, EventKind::Issues],
            &[EventKind::PullRequest, EventKind::Push],
            &[EventKind::Issues],
        );
        assert_eq!(result, vec![EventKind::Push, EventKind::PullRequest]);
    }
}
