//! What a scan learned about each GUID, and what to do about it.

use std::collections::{HashMap, HashSet};

use octohook::DeliveryGuid;
use time::{Duration, OffsetDateTime};

use super::ledger::Intent;
use crate::models::{DeliveryId, DeliverySummary};

/// Whether GitHub recorded this attempt as a success: status `OK`, or a 2xx
/// answer. Everything else failed: 4xx and 5xx answers, redirects (GitHub does
/// not follow them), and attempts with no answer at all (`status_code` 0:
/// timeouts, refused connections, TLS failures).
pub(crate) fn succeeded(delivery: &DeliverySummary) -> bool {
    delivery.status.eq_ignore_ascii_case("ok") || (200..300).contains(&delivery.status_code)
}

/// The deliveries of one GUID within the scanned window.
#[derive(Clone, Debug)]
pub(crate) struct GuidHistory {
    /// The newest failed attempt: the one to redeliver.
    pub(crate) newest_failed: Option<(DeliveryId, OffsetDateTime)>,
    /// Some attempt has status `OK`.
    pub(crate) succeeded: bool,
    /// When each listed redelivery (`redelivery: true`, any outcome) was made.
    pub(crate) redeliveries: Vec<OffsetDateTime>,
    /// The oldest attempt seen.
    pub(crate) oldest: OffsetDateTime,
}

/// Deliveries grouped by GUID, page after page, newest first.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Deliveries older than this are not grouped: an earlier run handled them,
    /// or they are outside the window.
    floor: OffsetDateTime,
    /// GitHub's redelivery window starts here.
    window_start: OffsetDateTime,
    pub(crate) guids: HashMap<DeliveryGuid, GuidHistory>,
    /// Failed GUIDs seen beyond the window, and GUIDs with a success there.
    failed_beyond_window: HashSet<DeliveryGuid>,
    succeeded_beyond_floor: HashSet<DeliveryGuid>,
    /// The newest delivery seen.
    pub(crate) head: Option<OffsetDateTime>,
    /// The oldest delivery seen.
    pub(crate) tail: Option<OffsetDateTime>,
    pub(crate) deliveries: u64,
    /// A delivery older than the floor was seen: older pages are not needed.
    pub(crate) reached_floor: bool,
}

impl Scan {
    pub(crate) fn new(floor: OffsetDateTime, window_start: OffsetDateTime) -> Self {
        Self {
            floor,
            window_start,
            guids: HashMap::new(),
            failed_beyond_window: HashSet::new(),
            succeeded_beyond_floor: HashSet::new(),
            head: None,
            tail: None,
            deliveries: 0,
            reached_floor: false,
        }
    }

    pub(crate) fn add(&mut self, delivery: &DeliverySummary) {
        self.deliveries += 1;
        let at = delivery.delivered_at;
        self.head = Some(self.head.map_or(at, |head| head.max(at)));
        self.tail = Some(self.tail.map_or(at, |tail| tail.min(at)));
        let ok = succeeded(delivery);
        if at < self.floor {
            self.reached_floor = true;
            if ok {
                self.succeeded_beyond_floor.insert(delivery.guid.clone());
            } else if at < self.window_start {
                self.failed_beyond_window.insert(delivery.guid.clone());
            }
            return;
        }
        let history = self
            .guids
            .entry(delivery.guid.clone())
            .or_insert_with(|| GuidHistory {
                newest_failed: None,
                succeeded: false,
                redeliveries: Vec::new(),
                oldest: at,
            });
        history.oldest = history.oldest.min(at);
        if delivery.redelivery {
            history.redeliveries.push(at);
        }
        if ok {
            history.succeeded = true;
        } else if history.newest_failed.is_none_or(|(_, newest)| at > newest) {
            history.newest_failed = Some((delivery.id, at));
        }
    }

    /// Failed GUIDs seen only beyond the redelivery window, with no success seen.
    pub(crate) fn too_old(&self) -> u64 {
        self.failed_beyond_window
            .iter()
            .filter(|guid| {
                !self.guids.contains_key(*guid) && !self.succeeded_beyond_floor.contains(*guid)
            })
            .count() as u64
    }
}

/// Pairs our intents, oldest first, with the listed redeliveries made at or after
/// their time less `skew`, each listed one used once; says which were paired.
///
/// A listed redelivery that pairs with none of our intents is someone else's (a
/// person's, or another tool's).
pub(crate) fn pair_intents(
    intents: &[&Intent],
    listed: &[OffsetDateTime],
    skew: Duration,
) -> Vec<bool> {
    let mut listed = listed.to_vec();
    listed.sort_unstable();
    let mut order: Vec<usize> = (0..intents.len()).collect();
    order.sort_by_key(|&i| (intents[i].created_at, intents[i].id));
    let mut paired = vec![false; intents.len()];
    let mut next = 0;
    for i in order {
        let earliest = intents[i].created_at - skew;
        while next < listed.len() && listed[next] < earliest {
            next += 1;
        }
        if next < listed.len() {
            paired[i] = true;
            next += 1;
        }
    }
    paired
}

/// What to do with one GUID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Some attempt succeeded.
    Succeeded,
    /// It had its attempts; `pending` when one of ours is still unconfirmed.
    AlreadyRedelivered { pending: bool },
    /// Redeliver `delivery_id`, claiming it only while our own attempts stay
    /// under `limit` (the maximum less other people's redeliveries).
    Redeliver { delivery_id: DeliveryId, limit: u32 },
}

/// The verdict on a GUID, or `None` when none of its attempts in the window
/// failed. `intents` are ours for this GUID that count as attempts.
pub(crate) fn judge(
    history: &GuidHistory,
    intents: &[&Intent],
    max_attempts: u32,
    skew: Duration,
) -> Option<Verdict> {
    let (delivery_id, _) = history.newest_failed?;
    if history.succeeded {
        return Some(Verdict::Succeeded);
    }
    let paired = pair_intents(intents, &history.redeliveries, skew);
    let ours_paired = paired.iter().filter(|p| **p).count();
    let ours_unseen = paired.len() - ours_paired;
    let others = history.redeliveries.len() - ours_paired;
    let attempts = history.redeliveries.len() + ours_unseen;
    if attempts >= max_attempts as usize {
        let pending = intents
            .iter()
            .zip(&paired)
            .any(|(intent, paired)| !paired && intent.state == super::IntentState::Open);
        return Some(Verdict::AlreadyRedelivered { pending });
    }
    let limit = max_attempts.saturating_sub(u32::try_from(others).unwrap_or(u32::MAX));
    Some(Verdict::Redeliver { delivery_id, limit })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redelivery::ledger::{IntentId, IntentState};

    fn at(minutes: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000) + Duration::minutes(minutes)
    }

    fn intent(id: i64, minutes: i64, state: IntentState) -> Intent {
        Intent::new(
            IntentId::new(id),
            "g".parse().unwrap(),
            DeliveryId::new(1),
            at(minutes),
            state,
            None,
        )
    }

    fn history(redeliveries: &[i64]) -> GuidHistory {
        GuidHistory {
            newest_failed: Some((DeliveryId::new(7), at(0))),
            succeeded: false,
            redeliveries: redeliveries.iter().map(|m| at(*m)).collect(),
            oldest: at(0),
        }
    }

    #[test]
    fn a_fresh_failure_is_redelivered_and_a_success_is_not() {
        let verdict = judge(&history(&[]), &[], 1, Duration::minutes(1));
        assert_eq!(
            verdict,
            Some(Verdict::Redeliver {
                delivery_id: DeliveryId::new(7),
                limit: 1
            })
        );
        let mut ok = history(&[]);
        ok.succeeded = true;
        assert_eq!(
            judge(&ok, &[], 1, Duration::minutes(1)),
            Some(Verdict::Succeeded)
        );
        let mut clean = history(&[]);
        clean.newest_failed = None;
        assert_eq!(judge(&clean, &[], 1, Duration::minutes(1)), None);
    }

    #[test]
    fn someone_elses_redelivery_counts() {
        assert_eq!(
            judge(&history(&[5]), &[], 1, Duration::minutes(1)),
            Some(Verdict::AlreadyRedelivered { pending: false })
        );
        // With two attempts allowed, one is left, and the claim limit leaves room
        // for exactly one of ours.
        assert_eq!(
            judge(&history(&[5]), &[], 2, Duration::minutes(1)),
            Some(Verdict::Redeliver {
                delivery_id: DeliveryId::new(7),
                limit: 1
            })
        );
    }

    #[test]
    fn our_intent_and_its_listed_redelivery_count_once() {
        let ours = intent(1, 10, IntentState::Accepted);
        // Listed 30 s before our clock said: within the skew, so it is ours.
        let verdict = judge(&history(&[10]), &[&ours], 2, Duration::minutes(1));
        assert_eq!(
            verdict,
            Some(Verdict::Redeliver {
                delivery_id: DeliveryId::new(7),
                limit: 2
            })
        );
        // Not yet listed: still counts.
        let verdict = judge(&history(&[]), &[&ours], 1, Duration::minutes(1));
        assert_eq!(
            verdict,
            Some(Verdict::AlreadyRedelivered { pending: false })
        );
        let open = intent(2, 10, IntentState::Open);
        let verdict = judge(&history(&[]), &[&open], 1, Duration::minutes(1));
        assert_eq!(verdict, Some(Verdict::AlreadyRedelivered { pending: true }));
    }

    #[test]
    fn pairing_uses_each_listed_redelivery_once_and_not_before_the_intent() {
        let early = intent(1, 10, IntentState::Accepted);
        let late = intent(2, 20, IntentState::Open);
        // A redelivery at minute 5 predates both intents: someone else's.
        assert_eq!(
            pair_intents(&[&late, &early], &[5, 12].map(at), Duration::minutes(1)),
            [false, true]
        );
        assert_eq!(
            pair_intents(&[&early, &late], &[25, 12].map(at), Duration::minutes(1)),
            [true, true]
        );
    }

    #[test]
    fn deliveries_beyond_the_floor_only_count_as_too_old() {
        let summary = |id: u64, guid: &str, minutes: i64, ok: bool| -> DeliverySummary {
            serde_json::from_value(serde_json::json!({
                "id": id, "guid": guid, "delivered_at": at(minutes).format(&time::format_description::well_known::Rfc3339).unwrap(),
                "redelivery": false, "duration": 0.1, "status": if ok { "OK" } else { "timed out" },
                "status_code": if ok { 200 } else { 0 }, "event": "push",
            }))
            .unwrap()
        };
        let mut scan = Scan::new(at(-10), at(-100));
        scan.add(&summary(5, "a", 0, false));
        scan.add(&summary(4, "b", -50, false)); // between window and floor: handled before
        scan.add(&summary(3, "c", -200, false)); // beyond the window
        scan.add(&summary(2, "d", -200, false));
        scan.add(&summary(1, "d", -300, true));
        assert!(scan.reached_floor);
        assert_eq!(scan.guids.len(), 1);
        assert_eq!(scan.too_old(), 1);
        assert_eq!(scan.deliveries, 5);
        assert_eq!(scan.head, Some(at(0)));
    }
}
