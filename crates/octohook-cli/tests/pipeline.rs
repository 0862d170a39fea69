//! `octohook serve` over the library pipeline: lines byte for byte with and
//! without an inbox, and `--out` fed from the inbox across several `kill -9`.

use std::process::Command;

use octohook_test_battery::{CrashSubject, Lines, ReceiverProcess, TempDb};

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
