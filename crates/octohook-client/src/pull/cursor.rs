//! [`PullCursor`]: where a pull source stands in a hook's list of deliveries,
//! as it keeps it in the inbox's store.

use octohook::HookId;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::models::DeliveryId;

/// The newest delivery a pull has stored everything up to (by GitHub's
/// `delivered_at`, then id), and the hook id its deliveries carry (learned
/// from the first one read, for an App hook). Kept in the store as one line of
/// text: `v1 DELIVERED_AT DELIVERY_ID HOOK_ID` (`-` for no hook id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PullCursor {
    pub(crate) delivered_at: OffsetDateTime,
    pub(crate) id: DeliveryId,
    pub(crate) hook_id: Option<HookId>,
}

impl PullCursor {
    /// The cursor's text, as the store keeps it.
    pub(crate) fn to_text(&self) -> String {
        let at = self
            .delivered_at
            .format(&Rfc3339)
            .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned());
        let hook = self
            .hook_id
            .map_or_else(|| "-".to_owned(), |id| id.get().to_string());
        format!("v1 {at} {} {hook}", self.id)
    }

    /// Reads a cursor's text back; `None` for text no pull source wrote.
    pub(crate) fn from_text(text: &str) -> Option<Self> {
        let mut words = text.split(' ');
        if words.next()? != "v1" {
            return None;
        }
        let delivered_at = OffsetDateTime::parse(words.next()?, &Rfc3339).ok()?;
        let id = words.next()?.parse().ok()?;
        let hook_id = match words.next()? {
            "-" => None,
            id => Some(HookId::new(id.parse().ok()?)),
        };
        words.next().is_none().then_some(Self {
            delivered_at,
            id,
            hook_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_written_and_other_text_not_at_all() {
        let cursor = PullCursor {
            delivered_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            id: DeliveryId::new(42),
            hook_id: Some(HookId::new(7)),
        };
        assert_eq!(cursor.to_text(), "v1 2023-11-14T22:13:20Z 42 7");
        assert_eq!(
            PullCursor::from_text(&cursor.to_text()),
            Some(cursor.clone())
        );
        let app = PullCursor {
            hook_id: None,
            ..cursor
        };
        assert_eq!(PullCursor::from_text(&app.to_text()), Some(app));
        for bad in [
            "",
            "v2 2023-11-14T22:13:20Z 42 7",
            "v1 yesterday 42 7",
            "v1 2023-11-14T22:13:20Z 42 7 8",
        ] {
            assert_eq!(PullCursor::from_text(bad), None, "{bad}");
        }
    }
}
