//! What a receiver with an inbox stores of a delivery's headers: GitHub's own,
//! each once, within `octohook::RawHeaders::MAX_BYTES`, however many
//! padding headers a replayed delivery carries.

use std::net::SocketAddr;

use octohook::RawHeaders;
use octohook::header::DELIVERY_HEADERS;
use octohook_inbox::{DeliveryStore, ListQuery, SqliteOptions, SqliteStore};

use crate::{ReceiverProcess, TempDb, TestDelivery};

/// Runs `program`, a receiver with a SQLite inbox (`OCTOHOOK_DB`, a fresh file
/// here), through [`check_stored_headers`], reading the rows from its file.
///
/// # Panics
/// On any failure, with the list of failed cases.
pub async fn check_inbox_receiver_stored_headers(program: &str) {
    let db = TempDb::new();
    let receiver = ReceiverProcess::start_with(program, &[("OCTOHOOK_DB", db.path_str())]);
    check_receiver_stored_headers(&receiver, &db).await;
}

/// [`check_inbox_receiver_stored_headers`] on a receiver already started with
/// its inbox in `db` (`octohook serve --db`, say).
///
/// # Panics
/// On any failure, with the list of failed cases.
pub async fn check_receiver_stored_headers(receiver: &ReceiverProcess, db: &TempDb) {
    // Read-only: the receiver created and migrated the file before listening.
    let store = SqliteStore::open_with(db.path(), SqliteOptions::default().read_only(true))
        .await
        .expect("the receiver's inbox opens read-only");
    crate::assert_no_failures(&check_stored_headers(receiver.address(), "/", &store).await);
}

/// Posts signed deliveries carrying padding headers (`X-GitHub-Padding-N`: 20
/// of 2 KB, which every HTTP server takes, then 90 of 5 KB, which one may refuse
/// whole, with a 4xx or by closing the connection) to the receiver at
/// `address` + `path`, which stores accepted deliveries in `store`; then reads
/// each stored row back. Returns one line per failure (empty when all pass).
///
/// An accepted delivery must be stored with only names from
/// [`DELIVERY_HEADERS`], each once (the first value), at most
/// [`RawHeaders::MAX_BYTES`] of them, GitHub's own all kept. A refused one
/// (4xx, or the connection closed) must not be stored at all.
pub async fn check_stored_headers(
    address: SocketAddr,
    path: &str,
    store: &dyn DeliveryStore,
) -> Vec<String> {
    let url = format!("http://{address}{path}");
    let client = crate::http_client();
    let mut failures = Vec::new();
    for (count, size, must_accept) in [(20, 2_000, true), (90, 5_000, false)] {
        let case = format!("{count} padding headers of {size} bytes");
        let mut delivery =
            TestDelivery::json("issues", br#"{"action":"opened","padded":true}"#.to_vec());
        for n in 0..count {
            delivery =
                delivery.with_added_header(&format!("x-github-padding-{n}"), &"p".repeat(size));
        }
        // A server may refuse a request whose headers are too large by
        // answering 431 and closing while the client is still sending, so the
        // client sees the connection reset instead of the status. That is a
        // refusal too when headers were allowed to be refused, and the store
        // check below still holds: nothing, or one row within the cap.
        let status = match delivery.send(&client, &url).await {
            Ok((status, _)) => Some(status),
            Err(_) if !must_accept => None,
            Err(why) => {
                failures.push(format!("{case}: {why}"));
                continue;
            }
        };
        let query = ListQuery::default().guid(delivery.guid().parse().expect("a GUID"));
        let stored = match store.list(&query).await {
            Ok(stored) => stored,
            Err(error) => {
                failures.push(format!("{case}: cannot read the store: {error}"));
                continue;
            }
        };
        match status {
            Some(status) if !(200..300).contains(&status) => {
                if must_accept || !(400..500).contains(&status) {
                    failures.push(format!("{case}: answered {status}"));
                } else if !stored.is_empty() {
                    failures.push(format!("{case}: refused with {status}, yet stored"));
                }
                continue;
            }
            // The connection closed before an answer: refused, unless a row
            // shows the delivery was taken, and then that row is checked.
            None if stored.is_empty() => continue,
            _ => {}
        }
        let [row] = stored.as_slice() else {
            failures.push(format!("{case}: {} rows stored, not 1", stored.len()));
            continue;
        };
        let headers: Vec<(String, String)> = row
            .headers
            .iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        if let Err(why) = check_row(&headers, &delivery) {
            failures.push(format!("{case}: {why}"));
        }
    }
    failures
}

/// Checks one stored row's headers against what was sent.
fn check_row(stored: &[(String, String)], sent: &TestDelivery) -> Result<(), String> {
    let bytes: usize = stored
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    if bytes > RawHeaders::MAX_BYTES {
        return Err(format!(
            "{bytes} header bytes stored, over the cap of {}",
            RawHeaders::MAX_BYTES
        ));
    }
    for (index, (name, _)) in stored.iter().enumerate() {
        if !DELIVERY_HEADERS
            .iter()
            .any(|allowed| allowed == name.as_str())
        {
            return Err(format!("stored {name}, which GitHub does not send"));
        }
        if stored[..index].iter().any(|(seen, _)| seen == name) {
            return Err(format!("stored {name} twice"));
        }
    }
    // GitHub's own headers are all kept, with the first value sent.
    for allowed in &DELIVERY_HEADERS {
        let Some((_, first)) = sent
            .headers()
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(allowed.as_str()))
        else {
            continue;
        };
        let kept = stored
            .iter()
            .find(|(name, _)| name == allowed.as_str())
            .map(|(_, value)| value);
        if kept != Some(first) {
            return Err(format!("stored {allowed} as {kept:?}, not {first:?}"));
        }
    }
    Ok(())
}
