//! One page of a list, and where the next one starts.

use std::future::Future;

use futures_util::Stream;
use url::Url;

use crate::error::ClientError;

/// One page of a list and how to ask for the next.
///
/// `C` is what the next request takes: a page number (`u32`) for hook lists, a
/// [`DeliveryCursor`](crate::DeliveryCursor) for deliveries. Both come from the
/// `rel="next"` link of GitHub's `Link` header; `next` is `None` on the last page.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Page<T, C> {
    /// The items, in GitHub's order (deliveries: newest first).
    pub items: Vec<T>,
    /// What to pass to fetch the next page, if there is one.
    pub next: Option<C>,
}

impl<T, C> Page<T, C> {
    /// A page; mostly useful to fakes and tests of code that consumes pages.
    pub fn new(items: Vec<T>, next: Option<C>) -> Self {
        Self { items, next }
    }
}

impl<T, C> IntoIterator for Page<T, C> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// A lazy stream over the items of every page, fetching page after page with
/// `fetch`, starting at `first`, as the consumer polls.
///
/// It ends after a page without `next`, and also when GitHub names the page it just
/// served as the next one, so a misbehaving server cannot make it loop forever.
pub(crate) fn items<T, C, F, Fut>(first: C, fetch: F) -> impl Stream<Item = Result<T, ClientError>>
where
    C: Clone + PartialEq,
    F: FnMut(C) -> Fut,
    Fut: Future<Output = Result<Page<T, C>, ClientError>>,
{
    struct State<T, C, F> {
        buffered: std::vec::IntoIter<T>,
        next: Option<C>,
        fetch: F,
    }
    let state = State {
        buffered: Vec::new().into_iter(),
        next: Some(first),
        fetch,
    };
    futures_util::stream::try_unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.buffered.next() {
                return Ok(Some((item, state)));
            }
            let Some(cursor) = state.next.take() else {
                return Ok(None);
            };
            let page = (state.fetch)(cursor.clone()).await?;
            state.buffered = page.items.into_iter();
            state.next = page.next.filter(|next| *next != cursor);
        }
    })
}

/// The URL of the `rel="next"` link in a `Link` header value such as
/// `<https://api.github.com/…?cursor=v1_1>; rel="next", <…>; rel="prev"`.
pub(crate) fn next_link(header: &str) -> Option<Url> {
    let mut rest = header;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let target = &rest[start + 1..end];
        rest = &rest[end + 1..];
        // Parameters run until the comma before the next link.
        let params_end = rest.find([',', '<']).unwrap_or(rest.len());
        let params = &rest[..params_end];
        let is_next = params.split(';').any(|param| {
            let Some((name, value)) = param.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Url::parse(target).ok();
        }
    }
}

/// The value of query parameter `name` in the next link.
pub(crate) fn next_query_param(header: &str, name: &str) -> Option<String> {
    next_link(header)?
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_link_among_others() {
        let header = "<https://api.github.com/repos/o/r/hooks/1/deliveries?per_page=2&cursor=v1_12>; rel=\"prev\", \
                      <https://api.github.com/repos/o/r/hooks/1/deliveries?per_page=2&cursor=v1_34%3D>; rel=\"next\"";
        assert_eq!(
            next_query_param(header, "cursor").as_deref(),
            Some("v1_34=")
        );
        assert_eq!(next_query_param(header, "per_page").as_deref(), Some("2"));
    }

    #[test]
    fn page_numbers_and_absent_next() {
        let header = "<https://api.github.com/orgs/a/hooks?page=3>; rel=\"next\", \
                      <https://api.github.com/orgs/a/hooks?page=9>; rel=\"last\"";
        assert_eq!(next_query_param(header, "page").as_deref(), Some("3"));
        let last = "<https://api.github.com/orgs/a/hooks?page=1>; rel=\"first\", \
                    <https://api.github.com/orgs/a/hooks?page=8>; rel=\"prev\"";
        assert_eq!(next_link(last), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("garbage <unclosed"), None);
    }
}
