//! [`LogRateLimit`]: at most so many log lines per interval, and one line that
//! counts the rest.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// At most a number of log lines of one kind per interval (a second by
/// default); past it, lines are suppressed, and the first line of a later
/// interval comes after one summary that counts them by reason:
///
/// ```text
/// WARN octohook::log_rate_limit: suppressed 2990 rejection log lines in the last 1s suppressed=2990 reasons=bad_signature:2987,bad_headers:3
/// ```
///
/// A line about a request (a rejection, a refused payload) is the one log
/// output a stranger controls the rate of: without a limit, a flood of
/// requests is as large a flood of log lines, and fills the disk. The summary
/// is written when the next line of the kind is asked for: a burst followed by
/// silence is counted then (the metrics count every request meanwhile).
///
/// Clones share the count. The count is behind a mutex held for a few
/// instructions, far less than the request it is asked about costs.
///
/// ```
/// use octohook::LogRateLimit;
///
/// let limit = LogRateLimit::per_second("rejection", 2);
/// assert!(limit.admit("bad_signature"));
/// assert!(limit.clone().admit("bad_headers"));
/// assert!(!limit.admit("bad_signature"));
/// ```
#[derive(Clone)]
pub struct LogRateLimit {
    shared: Arc<Shared>,
}

struct Shared {
    /// What the lines are about, in the summary: `rejection`.
    kind: &'static str,
    lines: u32,
    interval: Duration,
    window: Mutex<Window>,
}

/// The interval being counted.
#[derive(Default)]
struct Window {
    started: Option<Instant>,
    admitted: u32,
    suppressed: Suppressed,
}

/// Suppressed lines by reason. Reasons come from the code (`bad_signature`),
/// not from clients, so there are few; past [`Suppressed::REASONS`], the rest
/// are counted as `other`.
#[derive(Default)]
struct Suppressed {
    total: u64,
    by_reason: Vec<(&'static str, u64)>,
}

impl Suppressed {
    const REASONS: usize = 16;

    fn count(&mut self, reason: &'static str) {
        self.total += 1;
        if let Some((_, count)) = self
            .by_reason
            .iter_mut()
            .find(|(known, _)| *known == reason)
        {
            *count += 1;
        } else if self.by_reason.len() < Self::REASONS {
            self.by_reason.push((reason, 1));
        } else if let Some((_, count)) = self
            .by_reason
            .iter_mut()
            .find(|(known, _)| *known == "other")
        {
            *count += 1;
        } else {
            // Keeps the list at its length: the last reason becomes `other`.
            if let Some(last) = self.by_reason.last_mut() {
                *last = ("other", last.1 + 1);
            }
        }
    }
}

impl fmt::Display for Suppressed {
    /// `reason:count,reason:count`: no space, so that it reads as one field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (reason, count)) in self.by_reason.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{reason}:{count}")?;
        }
        Ok(())
    }
}

impl LogRateLimit {
    /// The default number of lines per second of a kind: enough to see what a
    /// misconfigured sender gets wrong, few enough that a flood of requests
    /// writes a few hundred bytes per second.
    pub const DEFAULT_LINES_PER_SECOND: u32 = 10;

    /// At most `lines` lines of `kind` (such as `rejection`) per second.
    pub fn per_second(kind: &'static str, lines: u32) -> Self {
        Self::per_interval(kind, lines, Duration::from_secs(1))
    }

    /// At most `lines` lines of `kind` per `interval` (at least a millisecond).
    pub fn per_interval(kind: &'static str, lines: u32, interval: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                kind,
                lines,
                interval: interval.max(Duration::from_millis(1)),
                window: Mutex::new(Window::default()),
            }),
        }
    }

    /// How many lines an interval admits.
    pub fn lines(&self) -> u32 {
        self.shared.lines
    }

    /// The interval.
    pub fn interval(&self) -> Duration {
        self.shared.interval
    }

    /// Whether a line for `reason` may be written now; when not, it is counted
    /// under `reason` for the summary. The first call in a new interval writes
    /// the summary of the one before, when it suppressed anything.
    pub fn admit(&self, reason: &'static str) -> bool {
        self.admit_at(reason, Instant::now())
    }

    fn admit_at(&self, reason: &'static str, now: Instant) -> bool {
        let (admitted, summary) = {
            let mut window = self
                .shared
                .window
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let current = window.started.is_some_and(|started| {
                now.saturating_duration_since(started) < self.shared.interval
            });
            let summary = if current {
                None
            } else {
                let ended = std::mem::take(&mut *window);
                window.started = Some(now);
                (ended.suppressed.total > 0).then_some(ended.suppressed)
            };
            let admitted = window.admitted < self.shared.lines;
            if admitted {
                window.admitted += 1;
            } else {
                window.suppressed.count(reason);
            }
            (admitted, summary)
        };
        // Written outside the lock: a subscriber may be slow.
        if let Some(suppressed) = summary {
            tracing::warn!(
                suppressed = suppressed.total,
                reasons = %suppressed,
                "suppressed {} {} log lines in the last {}",
                suppressed.total,
                self.shared.kind,
                humantime::format_duration(self.shared.interval),
            );
        }
        admitted
    }
}

impl fmt::Debug for LogRateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogRateLimit")
            .field("kind", &self.shared.kind)
            .field("lines", &self.shared.lines)
            .field("interval", &self.shared.interval)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_capture::LogCapture;

    #[test]
    fn admits_so_many_lines_per_interval_then_counts_the_rest() {
        let limit = LogRateLimit::per_second("rejection", 3);
        let start = Instant::now();
        let admitted: Vec<bool> = (0..5)
            .map(|n| limit.admit_at("bad_signature", start + Duration::from_millis(n * 100)))
            .collect();
        assert_eq!(admitted, [true, true, true, false, false]);
        // Still the same interval, 999 ms after it started.
        assert!(!limit.admit_at("bad_headers", start + Duration::from_millis(999)));
        // The next interval starts with the first line after it.
        let next = start + Duration::from_millis(1000);
        assert!(limit.admit_at("bad_signature", next));
        assert!(limit.admit_at("bad_signature", next));
        assert!(limit.admit_at("bad_signature", next));
        assert!(!limit.admit_at("bad_signature", next));
        // Earlier than the interval's start (another thread's clock read): the
        // same interval.
        assert!(!limit.admit_at("bad_signature", start));
        let window = limit.shared.window.lock().unwrap();
        assert_eq!(window.suppressed.total, 2);
    }

    #[test]
    fn zero_lines_admits_none_and_clones_share_the_count() {
        let none = LogRateLimit::per_second("rejection", 0);
        assert!(!none.admit("busy"));
        let limit = LogRateLimit::per_second("rejection", 2);
        let clone = limit.clone();
        assert!(limit.admit("busy"));
        assert!(clone.admit("busy"));
        assert!(!limit.admit("busy"));
        assert!(!clone.admit("busy"));
    }

    #[test]
    fn one_summary_counts_the_suppressed_lines_by_reason() {
        let capture = LogCapture::default();
        let limit = LogRateLimit::per_second("rejection", 1);
        let start = Instant::now();
        tracing::subscriber::with_default(capture.line_subscriber(), || {
            assert!(limit.admit_at("bad_signature", start));
            for _ in 0..5 {
                assert!(!limit.admit_at("bad_signature", start));
            }
            assert!(!limit.admit_at("bad_headers", start));
            // Nothing is summarized before the interval ends.
            assert!(capture.text().is_empty());
            assert!(limit.admit_at("bad_headers", start + Duration::from_secs(3)));
            // A quiet interval writes no summary.
            assert!(limit.admit_at("bad_headers", start + Duration::from_secs(5)));
        });
        let text = capture.text();
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "suppressed 6 rejection log lines in the last 1s suppressed=6 reasons=bad_signature:5,bad_headers:1"
            ]
        );
    }

    #[test]
    fn reasons_past_the_cap_are_counted_as_other() {
        let mut suppressed = Suppressed::default();
        const NAMES: [&str; 20] = [
            "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "r13",
            "r14", "r15", "r16", "r17", "r18", "r19",
        ];
        for name in NAMES {
            suppressed.count(name);
        }
        assert_eq!(suppressed.total, 20);
        assert_eq!(suppressed.by_reason.len(), Suppressed::REASONS);
        assert_eq!(suppressed.by_reason.last(), Some(&("other", 5)));
        assert_eq!(suppressed.by_reason.iter().map(|(_, n)| n).sum::<u64>(), 20);
    }
}
