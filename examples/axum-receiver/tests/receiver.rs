//! Runs the example binary on a free port of 127.0.0.1: it must pass the receiver
//! battery and print exactly the lines `octohook serve --out` writes.

const BIN: &str = env!("CARGO_BIN_EXE_example-axum-receiver");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_battery_and_prints_one_line_per_accepted_delivery() {
    octohook_test_battery::check_line_printing_receiver(BIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_exactly_what_octohook_serve_writes() {
    octohook_test_battery::check_serve_records(BIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_flood_past_the_open_file_limit_does_not_delay_a_delivery() {
    let db = octohook_test_battery::TempDb::new();
    octohook_test_battery::check_idle_flood_under_a_low_file_limit(
        BIN,
        &[("OCTOHOOK_DB", db.path_str())],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_and_prints_the_readmes_first_delivery() {
    octohook_test_battery::check_readme_first_delivery(BIN, &[]).await;
}
