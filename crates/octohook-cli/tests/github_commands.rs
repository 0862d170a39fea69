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

const APP_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../octohook-client/tests/fixtures/test-app-key.pem"
);
const APP_PUBLIC_KEY: &[u8] =
    include_bytes!("../../octohook-client/tests/fixtures/test-app-key.pub.pem");

/// Runs `octohook ARGS` against `fake` with exactly the token variables in `env`
/// (GITHUB_TOKEN and GH_TOKEN are removed first).
async fn octohook_with(fake: &FakeGitHub, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_octohook"));
    command
        .args(args)
        .env("GITHUB_API_URL", fake.url())
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .env_remove("OCTOHOOK_CA_CERT")
        .env_remove("OCTOHOOK_NATIVE_ROOTS")
        .env("OCTOHOOK_LOG", "debug")
        .stdin(std::process::Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    for secret in [&TOKEN[4..], "ghs_fakeInstallation", "gh_cli_fallback"] {
        assert!(!stderr.contains(secret), "a token leaked: {stderr}");
    }
    output
}

/// The `Authorization` header of the last request the fake received.
fn last_authorization(fake: &FakeGitHub) -> String {
    let requests = fake.requests();
    let last = requests.last().expect("a request");
    last.headers["authorization"].to_str().unwrap().to_owned()
}

fn code(output: &Output) -> Option<i32> {
    output.status.code()
}

#[tokio::test]
async fn gh_token_is_the_fallback_for_github_token() {
    let fake = FakeGitHub::start().await;
    let list = ["hooks", "list", "--repo", "o/r"];

    // GH_TOKEN alone, as the gh CLI reads it.
    stdout(&octohook_with(&fake, &list, &[("GH_TOKEN", "gh_cli_fallback")]).await);
    assert_eq!(last_authorization(&fake), "Bearer gh_cli_fallback");

    // Both: GITHUB_TOKEN wins; an empty GITHUB_TOKEN counts as unset.
    let both = [("GITHUB_TOKEN", TOKEN), ("GH_TOKEN", "gh_cli_fallback")];
    stdout(&octohook_with(&fake, &list, &both).await);
    assert_eq!(last_authorization(&fake), format!("Bearer {TOKEN}"));
    let empty = [("GITHUB_TOKEN", ""), ("GH_TOKEN", "gh_cli_fallback")];
    stdout(&octohook_with(&fake, &list, &empty).await);
    assert_eq!(last_authorization(&fake), "Bearer gh_cli_fallback");

    // Neither: exit 4, naming both variables, and no request.
    fake.clear_requests();
    let output = octohook_with(&fake, &list, &[]).await;
    assert_eq!(code(&output), Some(4), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("GITHUB_TOKEN") && stderr.contains("GH_TOKEN"),
        "{stderr}"
    );
    assert!(fake.requests().is_empty());

    // --help says which comes first.
    let help = stdout(&octohook_with(&fake, &["hooks", "--help"], &[]).await);
    assert!(help.contains("GITHUB_TOKEN, and GH_TOKEN"), "{help}");
}

#[tokio::test]
async fn exit_codes_tell_unauthorized_from_not_found() {
    let fake = FakeGitHub::start().await;
    let revoked = octohook_with(
        &fake,
        &["hooks", "list", "--repo", "o/r"],
        &[("GITHUB_TOKEN", "revoked")],
    )
    .await;
    assert_eq!(code(&revoked), Some(4), "{revoked:?}");

    let missing = octohook(
        &fake,
        &["hooks", "get", "--repo", "o/r", "--hook", "999"],
        &[],
    )
    .await;
    assert_eq!(code(&missing), Some(5), "{missing:?}");
    let missing = octohook(
        &fake,
        &[
            "deliveries",
            "get",
            "--repo",
            "o/r",
            "--hook",
            "999",
            "--delivery",
            "1",
        ],
        &[],
    )
    .await;
    assert_eq!(code(&missing), Some(5), "{missing:?}");
}

#[tokio::test]
async fn hooks_delete_needs_yes_without_a_terminal() {
    let fake = FakeGitHub::start().await;
    let id = fake.add_hook("repos/o/r", "https://h.example.com/x", &["push"], None);
    let id = id.to_string();
    let delete = ["hooks", "delete", "--repo", "o/r", "--hook", id.as_str()];

    // stdin is not a terminal and there is no --yes: refuse, delete nothing.
    let output = octohook_with(&fake, &delete, &[("GITHUB_TOKEN", TOKEN)]).await;
    assert_eq!(code(&output), Some(8), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("delete hook {id} of o/r")),
        "{stderr}"
    );
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(fake.hooks("repos/o/r").len(), 1);
    assert!(fake.requests().iter().all(|r| r.method != "DELETE"));

    let mut with_yes = delete.to_vec();
    with_yes.extend(["--yes", "--json"]);
    let json = stdout(&octohook_with(&fake, &with_yes, &[("GITHUB_TOKEN", TOKEN)]).await);
    assert_eq!(
        serde_json::from_str::<Value>(&json).unwrap(),
        serde_json::json!({"deleted": id.parse::<u64>().unwrap()})
    );
    assert!(fake.hooks("repos/o/r").is_empty());
}

#[tokio::test]
async fn json_output_parses_for_every_data_command() {
    let fake = FakeGitHub::start().await;
    let id = fake
        .add_hook("repos/o/r", "https://h.example.com/j", &["push"], Some("s"))
        .to_string();
    fake.add_deliveries(&format!("repos/o/r/hooks/{id}"), 3);
    let parse = |output: &Output| -> Value {
        let text = stdout(output);
        assert_eq!(text.lines().count(), 1, "one line of JSON: {text}");
        serde_json::from_str(&text).unwrap()
    };
    let hook = parse(
        &octohook(
            &fake,
            &["hooks", "get", "--repo", "o/r", "--hook", &id, "--json"],
            &[],
        )
        .await,
    );
    assert_eq!(hook["config"]["url"], "https://h.example.com/j");
    let config = parse(
        &octohook(
            &fake,
            &["hooks", "config", "--repo", "o/r", "--hook", &id, "--json"],
            &[],
        )
        .await,
    );
    assert_eq!(config["url"], "https://h.example.com/j");
    let list = parse(
        &octohook(
            &fake,
            &[
                "deliveries",
                "list",
                "--repo",
                "o/r",
                "--hook",
                &id,
                "--json",
            ],
            &[],
        )
        .await,
    );
    let first = list[0]["id"].as_u64().unwrap().to_string();
    let delivery = parse(
        &octohook(
            &fake,
            &[
                "deliveries",
                "get",
                "--repo",
                "o/r",
                "--hook",
                &id,
                "--delivery",
                &first,
                "--json",
            ],
            &[],
        )
        .await,
    );
    assert_eq!(delivery["id"].as_u64().unwrap().to_string(), first);
    let redelivered = parse(
        &octohook(
            &fake,
            &[
                "deliveries",
                "redeliver",
                "--repo",
                "o/r",
                "--hook",
                &id,
                "--delivery",
                &first,
                "--json",
            ],
            &[],
        )
        .await,
    );
    assert_eq!(
        redelivered,
        serde_json::json!({"results": [{"delivery": first.parse::<u64>().unwrap(), "redelivered": true}]})
    );
}

#[tokio::test]
async fn deliveries_redeliver_exits_6_when_some_are_refused() {
    let fake = FakeGitHub::start().await;
    fake.add_deliveries("repos/o/r/hooks/3", 2);
    fake.inject(
        Some(axum::http::Method::POST),
        "repos/o/r/hooks/3/deliveries/999999/attempts",
        fake_github::Injected {
            status: 422,
            headers: Vec::new(),
            body: serde_json::json!({"message": "Validation Failed"}),
        },
    );
    let args = [
        "deliveries",
        "redeliver",
        "--repo",
        "o/r",
        "--hook",
        "3",
        "--delivery",
        "1000000",
        "--delivery",
        "999999",
        "--json",
    ];
    let output = octohook(&fake, &args, &[]).await;
    assert_eq!(code(&output), Some(6), "{output:?}");
    let results: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(results["results"][0]["redelivered"], true);
    assert_eq!(results["results"][1]["redelivered"], false);
    assert_eq!(
        fake.redelivered(),
        [("repos/o/r/hooks/3".to_owned(), 1_000_000)]
    );
}

#[tokio::test]
async fn hooks_config_app_shows_and_updates_the_apps_hook() {
    let fake = FakeGitHub::start_with_app_key(Some(APP_PUBLIC_KEY.to_vec())).await;
    let app = ["--app-id", "4242", "--private-key", APP_KEY];
    let mut show = vec!["hooks", "config", "--app", "--json"];
    show.extend(app);
    let config: Value =
        serde_json::from_str(&stdout(&octohook_with(&fake, &show, &[]).await)).unwrap();
    assert_eq!(config["url"], "https://app.example.com/hook");
    let request = fake.requests().pop().unwrap();
    assert_eq!(request.path, "app/hook/config");

    let mut update = vec![
        "hooks",
        "config",
        "--app",
        "--url",
        "https://new.example.com/hook",
    ];
    update.extend(app);
    let text = stdout(&octohook_with(&fake, &update, &[]).await);
    assert!(text.contains("url\thttps://new.example.com/hook"), "{text}");
    assert_eq!(fake.requests().pop().unwrap().method, "PATCH");

    // Without the app's credentials: a usage failure, no request.
    fake.clear_requests();
    let output = octohook(&fake, &["hooks", "config", "--app"], &[]).await;
    assert!(!output.status.success());
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn installation_id_authenticates_with_a_minted_token() {
    let fake = FakeGitHub::start_with_app_key(Some(APP_PUBLIC_KEY.to_vec())).await;
    fake.add_hook("repos/o/r", "https://h.example.com/i", &["push"], None);
    let args = [
        "hooks",
        "list",
        "--repo",
        "o/r",
        "--app-id",
        "4242",
        "--private-key",
        APP_KEY,
        "--installation-id",
        "77",
    ];
    let text = stdout(&octohook_with(&fake, &args, &[]).await);
    assert_eq!(text.lines().count(), 1);
    let minted = fake.minted();
    assert_eq!(minted.len(), 1);
    assert_eq!(minted[0].0, 77);
    assert_eq!(last_authorization(&fake), format!("Bearer {}", minted[0].1));
}

#[tokio::test]
async fn a_ca_cert_that_is_not_pem_is_refused_before_any_request() {
    let fake = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "not a certificate").unwrap();
    let output = octohook_with(
        &fake,
        &["hooks", "list", "--repo", "o/r"],
        &[
            ("GITHUB_TOKEN", TOKEN),
            ("OCTOHOOK_CA_CERT", path.to_str().unwrap()),
        ],
    )
    .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ca.pem") && stderr.contains("no PEM certificate"),
        "{stderr}"
    );
    assert!(fake.requests().is_empty());
}
