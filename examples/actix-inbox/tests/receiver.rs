//! Runs the example binary on a free port of 127.0.0.1 with a fresh SQLite inbox:
//! it must pass the receiver battery (the adversarial part too), print exactly
//! the lines `octohook serve --out` writes, and lose nothing across `kill -9`.

const BIN: &str = env!("CARGO_BIN_EXE_example-actix-inbox");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_exactly_what_octohook_serve_writes() {
    octohook_test_battery::check_serve_records(BIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_battery_prints_a_line_per_delivery_and_processes_a_redelivery_never() {
    let mut options =
        octohook_test_battery::AdversarialOptions::new(std::time::Duration::from_secs(1));
    if BIN.contains("actix") {
        options = options.continue_before_verifying();
    }
    octohook_test_battery::check_inbox_receiver(BIN, &options).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_sigkills_lose_no_acknowledged_delivery_and_store_none_twice() {
    let report = octohook_test_battery::check_program_crash_safety(BIN).await;
    assert_eq!(report.kills, 4);
}

/// The line comes from the typed `Dispatcher` handler, which runs only when the
/// payload parses as its event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_its_typed_handler_on_the_readmes_first_delivery() {
    let db = octohook_test_battery::TempDb::new();
    octohook_test_battery::check_readme_first_delivery(BIN, &[("OCTOHOOK_DB", db.path_str())])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_only_githubs_headers_within_the_cap() {
    octohook_test_battery::check_inbox_receiver_stored_headers(BIN).await;
}
