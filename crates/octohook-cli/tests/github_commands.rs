//! `octohook hooks` and `octohook deliveries` run as a process against the
//! in-process fake GitHub shared with octohook-client's tests.

#[path = "../../octohook-client/tests/support/fake_github.rs"]
mod fake_github;

use std::process::{Command, Output};

use fake_github::FakeGitHub;
use serde_json::Value;

const TOKEN: &str = "ghp_cliTestTokenThatMustNeverLeak";

/// Runs `octohook ARGS` against `fake` without blocking the fake's runtime.
async fn octohook(fake: &FakeGitHub, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_octohook"));
    command
        .args(args)
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("OCTOHOOK_LOG", "debug");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(&TOKEN[4..]), "the token leaked: {stderr}");
    output
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "octohook failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test]
async fn hooks_list_prints_every_hook_as_text_or_json() {
    let fake = FakeGitHub::start().await;
    for n in 0..150 {
        fake.add_hook(
            "repos/o/r",
            &format!("https://h.example.com/{n}"),
            &["push", "issues"],
            None,
        );
    }
    let text = stdout(&octohook(&fake, &["hooks", "list", "--repo", "o/r"], &[]).await);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 150);
    assert_eq!(lines[0], "1\tactive\tpush,issues\thttps://h.example.com/0");

    let json = stdout(&octohook(&fake, &["hooks", "list", "--org", "acme", "--json"], &[]).await);
    assert_eq!(
        serde_json::from_str::<Value>(&json).unwrap(),
        serde_json::json!([])
    );
}

#[tokio::test]
async fn hooks_ensure_creates_once_and_prints_the_id() {
    let fake = FakeGitHub::start().await;
    let args = [
        "hooks",
        "ensure",
        "--repo",
        "o/r",
        "--url",
        "https://service.example.com/github",
        "--events",
        "push,pull_request",
        "--secret-env",
        "SERVICE_SECRET",
    ];
    let env = [("SERVICE_SECRET", "s3cret")];
    let first = stdout(&octohook(&fake, &args, &env).await);
    let second = stdout(&octohook(&fake, &args, &env).await);
    assert_eq!(first.trim(), "1");
    assert_eq!(second, first);
    let hooks = fake.hooks("repos/o/r");
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        hooks[0]["events"],
        serde_json::json!(["push", "pull_request"])
    );
    assert_eq!(hooks[0]["config"]["content_type"], "json");
    assert_eq!(fake.secret_of(1).as_deref(), Some("s3cret"));

    // A missing secret variable is named, and nothing is created.
    let output = octohook(&fake, &args, &[]).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("SERVICE_SECRET"));
}

#[tokio::test]
async fn deliveries_list_filters_and_pages() {
    let fake = FakeGitHub::start().await;
    fake.add_deliveries("repos/o/r/hooks/3", 240);
    let text = stdout(
        &octohook(
            &fake,
            &[
                "deliveries",
                "list",
                "--repo",
                "o/r",
                "--hook",
                "3",
                "--status",
                "failure",
            ],
            &[],
        )
        .await,
    );
    assert_eq!(text.lines().count(), 80);
    assert!(
        text.lines()
            .all(|line| line.split('\t').nth(3) == Some("503"))
    );

    let json = stdout(
        &octohook(
            &fake,
            &[
                "deliveries",
                "list",
                "--repo",
                "o/r",
                "--hook",
                "3",
                "--json",
            ],
            &[],
        )
        .await,
    );
    let all: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(all.len(), 240);
    // One page for the 80 failures, three of 100 for all 240.
    let pages = fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/deliveries"))
        .count();
    assert_eq!(pages, 1 + 3);
}

#[tokio::test]
async fn deliveries_redeliver_by_id_and_recent_failures() {
    let fake = FakeGitHub::start().await;
    fake.add_deliveries("orgs/acme/hooks/5", 6);
    let text = stdout(
        &octohook(
            &fake,
            &[
                "deliveries",
                "redeliver",
                "--org",
                "acme",
                "--hook",
                "5",
                "--delivery",
                "999999",
            ],
            &[],
        )
        .await,
    );
    assert_eq!(text, "redelivered 999999\n");
    assert_eq!(
        fake.redelivered(),
        [("orgs/acme/hooks/5".to_owned(), 999_999)]
    );

    // The fake's deliveries are from 2024: none is within the last hour.
    let text = stdout(
        &octohook(
            &fake,
            &[
                "deliveries",
                "redeliver",
                "--org",
                "acme",
                "--hook",
                "5",
                "--since",
                "1h",
            ],
            &[],
        )
        .await,
    );
    assert_eq!(text, "");

    // Without --delivery or --since nothing is redelivered.
    let output = octohook(
        &fake,
        &["deliveries", "redeliver", "--org", "acme", "--hook", "5"],
        &[],
    )
    .await;
    assert!(!output.status.success());
    assert_eq!(fake.redelivered().len(), 1);
}
