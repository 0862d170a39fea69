//! `octohook inbox`: list, show, requeue and purge the deliveries `octohook serve`
//! stored.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};
use octohook::HookId;
use octohook_inbox::{
    BadDeliveryKey, DeliveryKey, DeliveryStatus, DeliveryStore, ListPages, ListQuery, PurgeQuery,
    StoreError, StoredDelivery, StoredDeliveryId,
};
use octohook_server::StoreOpenError;
use serde_json::{Value, json};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::exit_status::{Failed, Status};
use crate::inbox_store::InboxStoreArgs;
use crate::json_output;
use crate::terminal_text::{self, Layout};

/// Inspect and manage the inbox of `octohook serve`.
#[derive(Debug, Args)]
pub(crate) struct InboxArgs {
    #[command(flatten)]
    store: InboxStoreArgs,
    #[command(subcommand)]
    command: InboxCommand,
}

#[derive(Debug, Subcommand)]
enum InboxCommand {
    /// List stored deliveries, newest first.
    List {
        /// Only deliveries in this status (pending, processing, done, failed).
        #[arg(long)]
        status: Option<DeliveryStatus>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print one JSON array of objects (the table's fields and more) instead
        /// of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one delivery: its state, headers and payload.
    Show {
        /// A row id (as listed), or HOOK:GUID (-:GUID without a hook id).
        #[arg(allow_hyphen_values = true)]
        delivery: String,
        /// Print one JSON object: the state, `content_type`, `headers` (an array
        /// of [name, value] pairs) and `payload`.
        #[arg(long)]
        json: bool,
    },
    /// Requeue deliveries (for instance failed ones) to be processed again.
    Retry {
        /// Row ids or HOOK:GUID keys (-:GUID without a hook id, after `--`).
        #[arg(required_unless_present = "status", conflicts_with = "status")]
        deliveries: Vec<String>,
        /// Requeue every delivery in this status.
        #[arg(long)]
        status: Option<DeliveryStatus>,
        /// Print one JSON object: `requeued`, the number of deliveries requeued.
        #[arg(long)]
        json: bool,
    },
    /// Remove old deliveries; prints how many were removed. A purged delivery's
    /// GUID is forgotten: a redelivery of it would be stored again. Asks for
    /// confirmation on a terminal; otherwise needs --yes (exit 8 when declined or
    /// missing).
    Purge {
        /// Minimum age (7d, 12h, ...), from when the delivery was received.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        older_than: Duration,
        /// Only in this status (repeatable; done and failed by default).
        #[arg(long)]
        status: Vec<DeliveryStatus>,
        /// Purge without asking (required when standard input is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Print one JSON object: `purged`, the number of deliveries removed.
        #[arg(long)]
        json: bool,
    },
}

/// Why an `octohook inbox` command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InboxError {
    #[error(transparent)]
    Open(#[from] StoreOpenError),
    #[error("the inbox store failed: {0}")]
    Store(#[from] StoreError),
    #[error("no delivery {0} in the inbox")]
    NotFound(String),
    #[error("{0:?} is neither a row id nor HOOK:GUID: {1}")]
    BadReference(String, #[source] BadDeliveryKey),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    #[error(
        "purge removes deliveries for good: pass --yes to confirm (standard input is not a terminal)"
    )]
    PurgeUnconfirmed,
    #[error("purge cancelled")]
    PurgeCancelled,
    #[error("octohook inbox always names a store")]
    NoStore,
}

impl InboxError {
    /// The error with its exit status: 8 (aborted) for a purge not confirmed.
    pub(crate) fn into_boxed(self) -> Box<dyn std::error::Error> {
        match self {
            Self::PurgeUnconfirmed | Self::PurgeCancelled => {
                Box::new(Failed::new(Status::Aborted, self.to_string()))
            }
            other => Box::new(other),
        }
    }
}

pub(crate) async fn run(args: InboxArgs) -> Result<(), InboxError> {
    // Inspection never creates, migrates or changes the database.
    let read_only = matches!(
        args.command,
        InboxCommand::List { .. } | InboxCommand::Show { .. }
    );
    let choice = args.store.config(read_only);
    if let InboxCommand::Purge {
        older_than,
        status,
        yes: false,
        ..
    } = &args.command
    {
        confirm_purge(&choice.describe(), *older_than, status)?;
    }
    let store = choice.open().await?.ok_or(InboxError::NoStore)?;
    let mut out = std::io::stdout().lock();
    match args.command {
        InboxCommand::List {
            status,
            limit,
            json,
        } => {
            let mut query = ListQuery::default().limit(limit);
            if let Some(status) = status {
                query = query.status(status);
            }
            let deliveries = store.list(&query).await?;
            if json {
                let rows: Vec<Value> = deliveries.iter().map(summary).collect();
                json_output::print(&Value::Array(rows))?;
            } else {
                write_table(&mut out, &deliveries)?;
            }
        }
        InboxCommand::Show { delivery, json } => {
            let found = find(&store, &delivery).await?;
            if json {
                json_output::print(&details(&found))?;
            } else {
                write_details(&mut out, &found)?;
            }
        }
        InboxCommand::Retry {
            deliveries,
            status,
            json,
        } => {
            let keys = match status {
                Some(status) => keys_in(&store, status).await?,
                None => {
                    let mut keys = Vec::with_capacity(deliveries.len());
                    for reference in &deliveries {
                        keys.push(find(&store, reference).await?.key);
                    }
                    keys
                }
            };
            let mut requeued = 0_u64;
            for key in &keys {
                if store.requeue(key).await? {
                    requeued += 1;
                } else {
                    eprintln!("octohook: {key} is being processed (or is gone); left alone");
                }
            }
            if json {
                json_output::print(&json!({ "requeued": requeued }))?;
            } else {
                writeln!(out, "requeued {requeued}")?;
            }
        }
        InboxCommand::Purge {
            older_than,
            status,
            json,
            ..
        } => {
            let query = if status.is_empty() {
                PurgeQuery::finished_older_than(older_than)
            } else {
                PurgeQuery::older_than(older_than, status)
            };
            let purged = store.purge(&query).await?;
            if json {
                json_output::print(&json!({ "purged": purged }))?;
            } else {
                writeln!(out, "purged {purged}")?;
            }
        }
    }
    Ok(())
}

/// Asks on the terminal before a purge; refuses when standard input is not one
/// (a script must say `--yes`).
fn confirm_purge(
    store: &str,
    older_than: Duration,
    status: &[DeliveryStatus],
) -> Result<(), InboxError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(InboxError::PurgeUnconfirmed);
    }
    let statuses = if status.is_empty() {
        "done or failed".to_owned()
    } else {
        status
            .iter()
            .map(|status| status.as_str())
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let mut err = std::io::stderr().lock();
    write!(
        err,
        "Remove every {statuses} delivery received more than {} ago from {store}? [y/N] ",
        humantime::format_duration(older_than)
    )?;
    err.flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    match answer.trim() {
        "y" | "Y" | "yes" | "YES" | "Yes" => Ok(()),
        _ => Err(InboxError::PurgeCancelled),
    }
}

/// The keys of every delivery in `status`, paging through the store.
async fn keys_in(
    store: &Arc<dyn DeliveryStore>,
    status: DeliveryStatus,
) -> Result<Vec<DeliveryKey>, StoreError> {
    let mut pages = ListPages::new(&**store, ListQuery::default().status(status).limit(500));
    let mut keys = Vec::new();
    while let Some(page) = pages.next_page().await? {
        keys.extend(page.into_iter().map(|delivery| delivery.key));
    }
    Ok(keys)
}

/// A delivery named by its row id or its `HOOK:GUID` key (`-:GUID` when it came
/// without a hook id).
async fn find(
    store: &Arc<dyn DeliveryStore>,
    reference: &str,
) -> Result<StoredDelivery, InboxError> {
    let found = match reference.parse::<StoredDeliveryId>() {
        Ok(id) => store.get_by_id(id).await?,
        Err(_) => {
            let key = reference
                .parse::<DeliveryKey>()
                .map_err(|error| InboxError::BadReference(reference.to_owned(), error))?;
            store.get(&key).await?
        }
    };
    found.ok_or_else(|| InboxError::NotFound(reference.to_owned()))
}

fn time(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// The JSON of a listed delivery: its state, without headers or body.
fn summary(delivery: &StoredDelivery) -> Value {
    json!({
        "id": delivery.id.get(),
        "key": delivery.key.to_string(),
        "hook_id": delivery.key.hook_id.map(HookId::get),
        "guid": delivery.key.guid.as_str(),
        "event": delivery.event,
        "action": delivery.action,
        "status": delivery.status.as_str(),
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "received_at": time(delivery.received_at),
        "updated_at": time(delivery.updated_at),
        "next_attempt_at": delivery.next_attempt_at.map(time),
        "lease": delivery.lease.as_ref().map(|lease| json!({
            "owner": lease.owner,
            "until": time(lease.until),
        })),
    })
}

/// The JSON of a shown delivery: the summary, the headers and the payload.
fn details(delivery: &StoredDelivery) -> Value {
    let mut value = summary(delivery);
    let payload = match delivery.payload() {
        Ok(json) => serde_json::from_slice(&json)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&json).into_owned())),
        Err(_) => Value::String(String::from_utf8_lossy(&delivery.body).into_owned()),
    };
    if let Value::Object(map) = &mut value {
        map.insert("content_type".into(), delivery.content_type.as_str().into());
        map.insert(
            "headers".into(),
            Value::Array(
                delivery
                    .headers
                    .iter()
                    .map(|(name, value)| json!([name, value]))
                    .collect(),
            ),
        );
        map.insert("payload".into(), payload);
    }
    value
}

fn event_action(delivery: &StoredDelivery) -> String {
    match &delivery.action {
        Some(action) => format!("{}.{action}", delivery.event),
        None => delivery.event.to_string(),
    }
}

/// The widest a table cell may be, in display columns, by column.
const MAX_WIDTHS: [usize; 7] = [20, 10, 8, 40, 60, 24, 60];

/// `text` on one line of at most `max` display columns: line breaks become spaces,
/// other control characters (terminal escapes) and bidirectional formatting
/// characters `�`, and a cut is marked with `…`.
fn truncate(text: &str, max: usize) -> String {
    let line: String = text
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if terminal_text::is_hidden(c) => '\u{fffd}',
            c => c,
        })
        .collect();
    if line.width() <= max {
        return line;
    }
    let mut cut = String::new();
    let mut width = 0;
    for c in line.chars() {
        let columns = c.width().unwrap_or(0);
        // Keep one column for the ellipsis.
        if width + columns + 1 > max {
            break;
        }
        cut.push(c);
        width += columns;
    }
    if max > 0 {
        cut.push('…');
    }
    cut
}

fn write_table(out: &mut impl Write, deliveries: &[StoredDelivery]) -> std::io::Result<()> {
    let rows: Vec<[String; 7]> = deliveries
        .iter()
        .map(|delivery| {
            let cells = [
                delivery.id.to_string(),
                delivery.status.to_string(),
                delivery.attempts.to_string(),
                event_action(delivery),
                delivery.key.to_string(),
                time(delivery.received_at),
                delivery.last_error.clone().unwrap_or_default(),
            ];
            let mut max = MAX_WIDTHS.iter();
            cells.map(|cell| truncate(&cell, *max.next().unwrap_or(&60)))
        })
        .collect();
    let header = [
        "ID",
        "STATUS",
        "ATTEMPTS",
        "EVENT",
        "HOOK:GUID",
        "RECEIVED",
        "LAST ERROR",
    ];
    let mut widths = header.map(UnicodeWidthStr::width);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.width());
        }
    }
    let mut line = |cells: &[&str]| {
        let mut text = String::new();
        for (n, (cell, width)) in cells.iter().zip(widths).enumerate() {
            text.push_str(cell);
            if n + 1 < cells.len() {
                let padding = width.saturating_sub(cell.width()) + 2;
                text.extend(std::iter::repeat_n(' ', padding));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(&header)?;
    for row in &rows {
        line(&row.each_ref().map(String::as_str))?;
    }
    Ok(())
}

/// The human form of `inbox show`. Event, action, headers, payload and the last
/// error come from strangers (or from a command's standard error): their control
/// characters are escaped (see [`terminal_text`]); `--json` prints them exactly.
fn write_details(out: &mut impl Write, delivery: &StoredDelivery) -> std::io::Result<()> {
    let line = |text: &str| terminal_text::escaped(text, Layout::Line).into_owned();
    let block = |text: &str| terminal_text::escaped(text, Layout::Block).into_owned();
    writeln!(out, "id:          {}", delivery.id)?;
    writeln!(out, "key:         {}", line(&delivery.key.to_string()))?;
    writeln!(out, "event:       {}", line(&event_action(delivery)))?;
    writeln!(out, "status:      {}", delivery.status)?;
    writeln!(out, "attempts:    {}", delivery.attempts)?;
    writeln!(out, "received at: {}", time(delivery.received_at))?;
    writeln!(out, "updated at:  {}", time(delivery.updated_at))?;
    if let Some(at) = delivery.next_attempt_at {
        writeln!(out, "next try:    {}", time(at))?;
    }
    if let Some(lease) = &delivery.lease {
        writeln!(
            out,
            "leased by:   {} until {}",
            line(&lease.owner),
            time(lease.until)
        )?;
    }
    if let Some(error) = &delivery.last_error {
        writeln!(out, "last error:  {}", line(error))?;
    }
    writeln!(out, "headers:")?;
    for (name, value) in delivery.headers.iter() {
        // Signatures identify the body only; they are no secret, but noise here.
        if name.starts_with("x-hub-signature") {
            continue;
        }
        writeln!(out, "  {}: {}", line(name), line(value))?;
    }
    writeln!(out, "payload:")?;
    // serde_json escapes C0 controls in strings, but not DEL or C1 (U+009B).
    let payload = match delivery.payload() {
        Ok(json) => match serde_json::from_slice::<Value>(&json) {
            Ok(value) => format!("{value:#}"),
            Err(_) => String::from_utf8_lossy(&json).into_owned(),
        },
        Err(_) => String::from_utf8_lossy(&delivery.body).into_owned(),
    };
    writeln!(out, "{}", block(&payload))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_one_line() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("a\nb", 10), "a b");
        assert_eq!(truncate("abcdefghijkl", 5), "abcd…");
        assert_eq!(truncate("abcde", 5), "abcde");
        assert_eq!(truncate("abcdef", 5), "abcd…");
        assert_eq!(truncate("\u{1b}[31mred", 20), "\u{fffd}[31mred");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn truncation_counts_display_columns() {
        // Each CJK character and emoji takes two columns.
        assert_eq!(truncate("日本語のテキスト", 7), "日本語…");
        assert_eq!(truncate("日本語のテキスト", 7).width(), 7);
        assert_eq!(truncate("🎉🎉🎉", 6), "🎉🎉🎉");
        assert_eq!(truncate("🎉🎉🎉🎉", 6), "🎉🎉…");
        assert_eq!(truncate("a🎉", 2), "a…");
        let long = "x".repeat(64 * 1024);
        assert_eq!(truncate(&long, 40).width(), 40);
    }
}
