//! `octohook serve` over the library pipeline: lines byte for byte with and
//! without an inbox, `--out` fed from the inbox across several `kill -9`, and
//! appending after the partial line a killed run left.

use std::process::Command;

use octohook_test_battery::{CrashSubject, Lines, ReceiverProcess, TempDb, TestDelivery};

const BIN: &str = env!("CARGO_BIN_EXE_octohook");

fn serve(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(["serve", "--bind", "127.0.0.1:0"]).args(args);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_are_byte_exact_with_an_inbox() {
    let db = TempDb::new();
    let receiver = ReceiverProcess::spawn(&mut serve(&["--db", db.path_str()]), "octohook serve");
    octohook_test_battery::check_records(&receiver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_are_byte_exact_without_an_inbox() {
    let receiver = ReceiverProcess::spawn(&mut serve(&["--no-inbox"]), "octohook serve");
    octohook_test_battery::check_records(&receiver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_loses_no_acknowledged_delivery_across_four_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deliveries.jsonl");
    let out_arg = out.to_str().unwrap().to_owned();
    let subject = CrashSubject {
        command: Box::new(move |db| serve(&["--db", db, "--out", &out_arg, "--lease", "2s"])),
        lines: Lines::File(out),
    };
    let report = octohook_test_battery::check_crash_safety(&subject, 400, 4).await;
    assert_eq!(report.kills, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_githubs_headers_are_stored_within_the_cap() {
    let db = TempDb::new();
    let receiver = ReceiverProcess::spawn(&mut serve(&["--db", db.path_str()]), "octohook serve");
    octohook_test_battery::check_receiver_stored_headers(&receiver, &db).await;
}

/// A file that ends in the middle of a line (a run killed while writing it):
/// the next run first ends that line, so the partial line stays alone on its
/// line and the new delivery's line is whole and parses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_appends_after_a_partial_last_line_on_a_line_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deliveries.jsonl");
    let whole = r#"{"delivery":"earlier","payload":{}}"#;
    let partial = r#"{"delivery":"cut-off","payl"#;
    std::fs::write(&out, format!("{whole}\n{partial}")).unwrap();
    let receiver = ReceiverProcess::spawn(
        &mut serve(&["--no-inbox", "--out", out.to_str().unwrap()]),
        "octohook serve",
    );
    let delivery = TestDelivery::json(
        "ping",
        br#"{"zen":"Half measures are as bad as nothing at all."}"#.to_vec(),
    );
    let url = format!("http://{}/", receiver.address());
    let (status, _) = delivery
        .send(&octohook_test_battery::http_client(), &url)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.ends_with('\n'), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[..2], [whole, partial]);
    delivery.expect_record(lines[2]).unwrap();
}
