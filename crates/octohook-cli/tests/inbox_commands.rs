//! `octohook inbox` on real SQLite files, through the real binary: `list` and
//! `show` never create or change a database, tables stay aligned whatever the
//! stored text, and `purge` wants a confirmation.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use octohook::{DeliveryGuid, EventKind};
use octohook_inbox::{DeliveryKey, DeliveryStore, NewDelivery, SqliteStore};
use unicode_width::UnicodeWidthStr;

const BIN: &str = env!("CARGO_BIN_EXE_octohook");

/// Runs `octohook inbox ARGS` with standard input not a terminal.
fn inbox(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("inbox")
        .args(args)
        .env_remove("OCTOHOOK_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file in `dir` and below (the SQLite store's body log is a
/// directory): its path, length and a hash of its bytes.
fn snapshot(dir: &Path) -> Vec<(String, usize, u64)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_dir() {
            for (inner, len, hash) in snapshot(&entry.path()) {
                files.push((format!("{name}/{inner}"), len, hash));
            }
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        let mut hasher = DefaultHasher::new();
        bytes.hash(&mut hasher);
        files.push((name, bytes.len(), hasher.finish()));
    }
    files.sort();
    files
}

/// Waits until the store's connection thread, which ends after the store is
/// dropped, has closed the database: the last connection removes the WAL file.
fn closed(db: &Path) {
    let wal = db.with_extension("db-wal");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while wal.exists() {
        assert!(std::time::Instant::now() < deadline, "the store stays open");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts a clean failure: exit status 1 (not a panic's 101), nothing on
/// standard output, and `expected` in the message.
fn assert_refused(output: &Output, expected: &str) {
    assert_refused_with(output, 1, expected);
}

/// Asserts a clean failure with exit status `code`.
fn assert_refused_with(output: &Output, code: i32, expected: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    assert!(stderr.contains(expected), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn key(n: u32) -> DeliveryKey {
    let guid: DeliveryGuid = format!("72d3162e-cc78-11e3-81ab-4c9367dc{n:04}")
        .parse()
        .unwrap();
    DeliveryKey::new(None, guid)
}

#[test]
fn list_and_show_leave_a_foreign_sqlite_file_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("notes.db");
    {
        let connection = rusqlite::Connection::open(&db).unwrap();
        connection
            .execute_batch(
                "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);
                 INSERT INTO notes (text) VALUES ('keep me');",
            )
            .unwrap();
    }
    let before = snapshot(dir.path());
    let db_arg = db.to_str().unwrap();
    for args in [
        &["list", "--db", db_arg][..],
        &["list", "--json", "--db", db_arg],
        &["show", "1", "--db", db_arg],
        &["show", "-:a1", "--json", "--db", db_arg],
    ] {
        let output = inbox(args);
        assert_refused(&output, "not an octohook delivery store");
        assert_eq!(
            snapshot(dir.path()),
            before,
            "{args:?} changed the directory"
        );
    }
}

#[test]
fn list_and_show_of_a_missing_file_fail_without_creating_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing.db");
    let db_arg = db.to_str().unwrap();
    for args in [
        &["list", "--db", db_arg][..],
        &["show", "1", "--db", db_arg],
    ] {
        assert_refused(&inbox(args), "no inbox database at");
    }
    assert!(snapshot(dir.path()).is_empty());
}

#[tokio::test]
async fn list_and_show_leave_an_inbox_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    {
        let store = SqliteStore::open(&db).await.unwrap();
        store
            .insert(NewDelivery::new(key(1), EventKind::Ping, r#"{"zen":"z"}"#))
            .await
            .unwrap();
    }
    closed(&db);
    let before = snapshot(dir.path());
    let db_arg = db.to_str().unwrap();
    let listed = inbox(&["list", "--db", db_arg]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert!(text(&listed.stdout).contains("ping"));
    let shown = inbox(&["show", "1", "--db", db_arg]);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    assert!(text(&shown.stdout).contains(r#""zen": "z""#));
    // The database file is untouched. A WAL database's readers need SQLite's
    // shared-memory index: a read-only one creates it (and an empty log) when no
    // writer has, and cannot remove them.
    // The body log's segments are untouched too.
    let after = snapshot(dir.path());
    assert_eq!(after[0], before[0]);
    for file in &after[1..] {
        let (name, length, _) = file;
        match name.as_str() {
            "inbox.db-shm" => {}
            "inbox.db-wal" => assert_eq!(*length, 0),
            _ if before.contains(file) => {}
            other => panic!("{other} appeared or changed"),
        }
    }
    assert!(
        before
            .iter()
            .filter(|(name, ..)| name.starts_with("inbox.db-bodies/"))
            .all(|file| after.contains(file))
    );
}

#[tokio::test]
async fn tables_truncate_long_fields_and_align_wide_characters() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let long_action = "x".repeat(64 * 1024);
    let long_error = format!("エラー🔥 {}", "é".repeat(64 * 1024));
    {
        let store = SqliteStore::open(&db).await.unwrap();
        for (n, action) in [
            long_action.as_str(),
            "作成された",
            "🎉🚀✨",
            "\u{1b}[31mred\nline",
            "opened",
        ]
        .into_iter()
        .enumerate()
        {
            let mut delivery = NewDelivery::new(key(n as u32), EventKind::Issues, "{}");
            delivery.action = Some(action.to_owned());
            store.insert(delivery).await.unwrap();
        }
        let claimed = store
            .claim("test", Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        store.fail(&claimed.claim, &long_error).await.unwrap();
    }
    let output = inbox(&["list", "--db", db.to_str().unwrap()]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    assert!(lines.iter().all(|line| line.width() < 300), "{stdout}");
    // The action and the error are cut with an ellipsis.
    assert!(stdout.contains("issues.xxxxxxxx"), "{stdout}");
    assert_eq!(stdout.matches('…').count(), 2, "{stdout}");
    assert!(stdout.contains("エラー🔥 éé"), "{stdout}");
    // No raw escape or line break from the stored text reaches the terminal.
    assert!(!stdout.contains('\u{1b}'), "{stdout}");
    assert!(stdout.contains("\u{fffd}[31mred line"), "{stdout}");
    // Every column starts at the same display column on every line.
    for column in ["HOOK:GUID", "RECEIVED", "LAST ERROR"] {
        let start = lines[0].find(column).unwrap();
        let expected = lines[0][..start].width();
        for line in &lines[1..] {
            let cells: Vec<&str> = line.split("  ").filter(|cell| !cell.is_empty()).collect();
            let at = match column {
                "HOOK:GUID" => cells.iter().position(|cell| cell.starts_with("-:")),
                "RECEIVED" => cells.iter().position(|cell| cell.starts_with("20")),
                _ => cells.iter().position(|cell| cell.starts_with("エラー")),
            };
            let Some(at) = at else { continue };
            let offset = line.find(cells[at]).unwrap();
            assert_eq!(line[..offset].width(), expected, "{column}:\n{stdout}");
        }
    }
    // `show` prints the fields in full, without a panic either.
    let shown = inbox(&["show", "1", "--db", db.to_str().unwrap()]);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    assert!(text(&shown.stdout).contains(&long_action));
}

#[tokio::test]
async fn purge_needs_yes_when_standard_input_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    {
        let store = SqliteStore::open(&db).await.unwrap();
        store
            .insert(NewDelivery::new(key(1), EventKind::Ping, "{}"))
            .await
            .unwrap();
        let claimed = store
            .claim("test", Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        store.fail(&claimed.claim, "boom").await.unwrap();
    }
    closed(&db);
    let db_arg = db.to_str().unwrap();
    let before = snapshot(dir.path());
    let refused = inbox(&["purge", "--older-than", "1ns", "--db", db_arg]);
    // 8: aborted, a confirmation needed and not given.
    assert_refused_with(&refused, 8, "pass --yes to confirm");
    assert_eq!(snapshot(dir.path()), before);
    let listed = inbox(&["list", "--json", "--db", db_arg]);
    assert_eq!(text(&listed.stdout).matches("\"guid\"").count(), 1);

    let purged = inbox(&["purge", "--older-than", "1ns", "--yes", "--db", db_arg]);
    assert!(purged.status.success(), "{}", text(&purged.stderr));
    assert_eq!(text(&purged.stdout), "purged 1\n");
}

/// Runs `octohook inbox ARGS` on a pseudo-terminal (util-linux `script`), typing
/// `answer`; `None` where `script` is missing.
fn inbox_on_a_terminal(args: &[&str], answer: &str) -> Option<Output> {
    let available = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        eprintln!("skipped: util-linux `script` is missing");
        return None;
    }
    let command = std::iter::once(BIN)
        .chain(std::iter::once("inbox"))
        .chain(args.iter().copied())
        .map(|arg| format!("'{arg}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("OCTOHOOK_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), answer.as_bytes()).unwrap();
    Some(child.wait_with_output().unwrap())
}

#[tokio::test]
async fn purge_on_a_terminal_asks_and_a_no_exits_8() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    {
        let store = SqliteStore::open(&db).await.unwrap();
        store
            .insert(NewDelivery::new(key(1), EventKind::Ping, "{}"))
            .await
            .unwrap();
        let claimed = store
            .claim("test", Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        store.complete(&claimed.claim).await.unwrap();
    }
    closed(&db);
    let db_arg = db.to_str().unwrap();
    let purge = ["purge", "--older-than", "1ns", "--json", "--db", db_arg];
    let Some(declined) = inbox_on_a_terminal(&purge, "n\n") else {
        return;
    };
    let screen = text(&declined.stdout);
    assert_eq!(declined.status.code(), Some(8), "{screen}");
    assert!(screen.contains("[y/N]"), "{screen}");
    assert!(screen.contains("purge cancelled"), "{screen}");
    let listed = inbox(&["list", "--json", "--db", db_arg]);
    assert_eq!(text(&listed.stdout).matches("\"guid\"").count(), 1);

    let accepted = inbox_on_a_terminal(&purge, "y\n").unwrap();
    let screen = text(&accepted.stdout);
    assert_eq!(accepted.status.code(), Some(0), "{screen}");
    assert!(screen.contains("{\"purged\":1}"), "{screen}");
    let listed = inbox(&["list", "--json", "--db", db_arg]);
    assert_eq!(text(&listed.stdout).trim(), "[]");
}

/// `show` and `retry` find a delivery by row id (the store's get-by-id) or by
/// its `HOOK:GUID` key (parsed by the library), and say which part of a bad
/// reference is wrong.
#[tokio::test]
async fn show_and_retry_find_deliveries_by_row_id_and_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let hooked = DeliveryKey::new(Some(octohook::HookId::new(7)), key(2).guid);
    {
        let store = SqliteStore::open(&db).await.unwrap();
        for delivery_key in [key(1), hooked.clone(), key(3)] {
            let body = format!(r#"{{"n":"{delivery_key}"}}"#);
            store
                .insert(NewDelivery::new(delivery_key, EventKind::Ping, body))
                .await
                .unwrap();
        }
        // Oldest first: key(1), then the hooked one, fail.
        for _ in 0..2 {
            let claimed = store
                .claim("test", Duration::from_secs(60))
                .await
                .unwrap()
                .unwrap();
            store.fail(&claimed.claim, "broken").await.unwrap();
        }
    }
    closed(&db);
    let db_arg = db.to_str().unwrap();
    let show = |reference: &str| {
        let output = inbox(&["show", reference, "--json", "--db", db_arg]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let (hooked_text, first_text, third_text) =
        (hooked.to_string(), key(1).to_string(), key(3).to_string());
    for (reference, id, key_text) in [
        ("2", 2, hooked_text.as_str()),
        (hooked_text.as_str(), 2, hooked_text.as_str()),
        ("3", 3, third_text.as_str()),
        (first_text.as_str(), 1, first_text.as_str()),
    ] {
        let shown = show(reference);
        assert_eq!(shown["id"], id, "{reference}");
        assert_eq!(shown["key"], key_text, "{reference}");
    }
    assert_refused(
        &inbox(&["show", "99", "--db", db_arg]),
        "no delivery 99 in the inbox",
    );
    assert_refused(
        &inbox(&["show", "x:a1", "--db", db_arg]),
        "before ':' is neither '-' nor a hook id",
    );
    assert_refused(&inbox(&["show", "a1", "--db", db_arg]), "there is no ':'");
    let retried = inbox(&["retry", "--json", "--db", db_arg, "--", "2"]);
    assert!(retried.status.success(), "{}", text(&retried.stderr));
    assert_eq!(text(&retried.stdout).trim(), r#"{"requeued":1}"#);
    assert_eq!(show("2")["status"], "pending");
    assert_eq!(show("1")["status"], "failed");
    let retried = inbox(&["retry", "--status", "failed", "--db", db_arg]);
    assert!(retried.status.success(), "{}", text(&retried.stderr));
    assert_eq!(text(&retried.stdout).trim(), "requeued 1");
    assert_eq!(show("1")["status"], "pending");
}
