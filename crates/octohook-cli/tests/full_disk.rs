//! `octohook serve --out` on a disk that fills up (a real tmpfs of 64 KiB): no
//! delivery is acknowledged (`--no-inbox`) or marked done (with an inbox)
//! without its whole line, the file only ever holds whole lines, and once there
//! is room again the deliveries are written whole.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use octohook_test_battery::{ReceiverProcess, SmallDisk, TestDelivery};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_octohook");

/// What the disk leaves for `--out` once the filler is written: four pages.
const FILLER: usize = 48 * 1024;

fn serve(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(args)
        .env_remove("OCTOHOOK_DATABASE_URL");
    command
}

/// A delivery whose line takes about 3 KiB.
fn delivery(n: usize) -> TestDelivery {
    let body = format!(
        r#"{{"action":"opened","issue":{{"number":{n}}},"pad":"{}"}}"#,
        "x".repeat(3000)
    );
    TestDelivery::json("issues", body.into_bytes())
}

/// The lines of `out`, each checked to be a whole record: the file ends with a
/// newline and every line parses. Returns the GUIDs.
fn whole_lines(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "--out ends in the middle of a line: …{}",
        &text[text.len().saturating_sub(80)..]
    );
    text.lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("a line does not parse ({error}): {line:.80}…"));
            record["delivery"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Every stored delivery (`octohook inbox list --json`).
fn stored(db: &str) -> Vec<Value> {
    let output = Command::new(BIN)
        .args(["inbox", "list", "--json", "--limit", "1000", "--db", db])
        .env_remove("OCTOHOOK_DATABASE_URL")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_inbox_a_line_that_does_not_fit_is_answered_503_and_cut_off() {
    let Some(disk) = SmallDisk::mount("64k") else {
        return;
    };
    let filler = disk.path().join("filler");
    std::fs::write(&filler, vec![0; FILLER]).unwrap();
    let out = disk.path().join("deliveries.jsonl");
    let receiver = ReceiverProcess::spawn(
        &mut serve(&["--no-inbox", "--out", out.to_str().unwrap()]),
        "octohook serve",
    );
    let url = format!("http://{}/", receiver.address());
    let client = octohook_test_battery::http_client();

    let mut accepted = Vec::new();
    let mut refused = None;
    for n in 0..20 {
        let delivery = delivery(n);
        match delivery.send(&client, &url).await.unwrap().0 {
            200 => accepted.push(delivery),
            503 => {
                refused = Some(delivery);
                break;
            }
            other => panic!("answered {other}"),
        }
    }
    let refused = refused.expect("the disk fills up within 20 deliveries");
    assert!(accepted.len() >= 2, "{} accepted", accepted.len());
    let bytes = std::fs::metadata(&out).unwrap().len();
    let guids = whole_lines(&out);
    let expected: Vec<&str> = accepted.iter().map(TestDelivery::guid).collect();
    assert_eq!(guids, expected, "one whole line per 200, and no other");
    eprintln!(
        "full disk, --no-inbox: {} answered 200, then 503; {bytes} bytes in --out, {} lines, all parse",
        accepted.len(),
        guids.len()
    );

    // Still full: refused again, and the file unchanged.
    assert_eq!(refused.send(&client, &url).await.unwrap().0, 503);
    assert_eq!(std::fs::metadata(&out).unwrap().len(), bytes);

    // Room again: GitHub's redelivery is written whole, after the others.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(refused.send(&client, &url).await.unwrap().0, 200);
    let guids = whole_lines(&out);
    assert_eq!(guids.len(), accepted.len() + 1);
    assert_eq!(guids.last().map(String::as_str), Some(refused.guid()));
    let text = std::fs::read_to_string(&out).unwrap();
    refused.expect_record(text.lines().last().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_inbox_a_line_that_does_not_fit_is_retried_until_it_does() {
    let Some(disk) = SmallDisk::mount("64k") else {
        return;
    };
    let filler = disk.path().join("filler");
    std::fs::write(&filler, vec![0; FILLER]).unwrap();
    let out = disk.path().join("deliveries.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let db = db.to_str().unwrap();
    let receiver = ReceiverProcess::spawn(
        &mut serve(&[
            "--db",
            db,
            "--out",
            out.to_str().unwrap(),
            "--retry-backoff",
            "50ms",
            "--max-attempts",
            "1000",
        ]),
        "octohook serve",
    );
    let url = format!("http://{}/", receiver.address());
    let client = octohook_test_battery::http_client();
    let deliveries: Vec<TestDelivery> = (0..10).map(delivery).collect();
    for delivery in &deliveries {
        // Committed to the store, which has room.
        assert_eq!(delivery.send(&client, &url).await.unwrap().0, 200);
    }

    // Some lines do not fit: their deliveries are retried, not done.
    let deadline = Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let rows = stored(db);
        let retried = rows
            .iter()
            .filter(|row| row["status"] != "done" && row["attempts"].as_u64() >= Some(2))
            .count();
        if rows.len() == deliveries.len() && retried > 0 {
            break rows;
        }
        assert!(Instant::now() < deadline, "no retried delivery: {rows:#?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let done: Vec<&str> = rows
        .iter()
        .filter(|row| row["status"] == "done")
        .map(|row| row["key"].as_str().unwrap().trim_start_matches("42:"))
        .collect();
    assert!(
        rows.iter().all(|row| row["status"] != "failed"),
        "{rows:#?}"
    );
    let bytes = std::fs::metadata(&out).map_or(0, |metadata| metadata.len());
    let guids = whole_lines(&out);
    for guid in &done {
        assert!(
            guids.iter().any(|line| line == guid),
            "{guid} is done without its line"
        );
    }
    eprintln!(
        "full disk, inbox: {} of {} done, {} retried; {bytes} bytes in --out, {} lines, all parse",
        done.len(),
        rows.len(),
        rows.len() - done.len(),
        guids.len()
    );

    // Room again: every delivery is written whole, and done.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while stored(db).iter().any(|row| row["status"] != "done") {
        assert!(Instant::now() < deadline, "{:#?}", stored(db));
        std::thread::sleep(Duration::from_millis(100));
    }
    let guids = whole_lines(&out);
    let text = std::fs::read_to_string(&out).unwrap();
    for delivery in &deliveries {
        let line = text
            .lines()
            .zip(&guids)
            .find(|(_, guid)| *guid == delivery.guid())
            .map(|(line, _)| line)
            .unwrap_or_else(|| panic!("no line for {}", delivery.guid()));
        delivery.expect_record(line).unwrap();
    }
    eprintln!(
        "full disk, inbox, room again: {} bytes in --out, {} lines, all parse",
        text.len(),
        guids.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_lines_on_a_filling_disk_never_cut_each_other() {
    let Some(disk) = SmallDisk::mount("64k") else {
        return;
    };
    std::fs::write(disk.path().join("filler"), vec![0; FILLER]).unwrap();
    let out = disk.path().join("deliveries.jsonl");
    let receiver = ReceiverProcess::spawn(
        &mut serve(&["--no-inbox", "--out", out.to_str().unwrap()]),
        "octohook serve",
    );
    let url = format!("http://{}/", receiver.address());
    let client = octohook_test_battery::http_client();
    let sends: Vec<_> = (0..16)
        .map(|n| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let delivery = delivery(n);
                let status = delivery.send(&client, &url).await.unwrap().0;
                (delivery.guid().to_owned(), status)
            })
        })
        .collect();
    let mut accepted = Vec::new();
    let mut refused = 0;
    for send in sends {
        match send.await.unwrap() {
            (guid, 200) => accepted.push(guid),
            (_, 503) => refused += 1,
            (_, other) => panic!("answered {other}"),
        }
    }
    assert!(refused > 0 && !accepted.is_empty(), "{refused} refused");
    let mut guids = whole_lines(&out);
    guids.sort();
    accepted.sort();
    assert_eq!(guids, accepted, "exactly one whole line per 200");
}
