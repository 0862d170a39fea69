//! `octohook hooks …`: list, inspect, create, change, delete, ping, test and
//! idempotently register repository and organization webhooks.

use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand, ValueEnum};
use octohook_client::{
    ConfigUpdate, HookContentType, HookId, HookTarget, HookUpdate, NewHook, RegisteredHook,
    RegisteredHookConfig,
};

use crate::deliveries_command::{SourceArgs, identity};
use crate::github_options::{
    GithubCommandError, GithubOptions, Identity, TargetArgs, parse_events,
};
use crate::secrets;

/// `octohook hooks`.
#[derive(Debug, Args)]
pub(crate) struct HooksArgs {
    #[command(flatten)]
    github: GithubOptions,
    #[command(subcommand)]
    command: HooksCommand,
}

#[derive(Debug, Subcommand)]
enum HooksCommand {
    /// List the hooks.
    List {
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Show one hook.
    Get(HookArgs),
    /// Create a hook (prefer `ensure`, which never creates a duplicate).
    Create {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        settings: Settings,
        /// Create it inactive.
        #[arg(long)]
        inactive: bool,
    },
    /// Change a hook's events, activity or configuration.
    Update {
        #[command(flatten)]
        hook: HookArgs,
        /// Replace the events (comma-separated).
        #[arg(long, value_name = "EVENTS")]
        events: Option<String>,
        /// Add events (comma-separated).
        #[arg(long, value_name = "EVENTS")]
        add_events: Option<String>,
        /// Remove events (comma-separated).
        #[arg(long, value_name = "EVENTS")]
        remove_events: Option<String>,
        /// Turn deliveries on or off.
        #[arg(long)]
        active: Option<bool>,
    },
    /// Delete a hook. Asks for confirmation on a terminal; elsewhere needs --yes.
    Delete {
        #[command(flatten)]
        hook: HookArgs,
        /// Delete without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Make GitHub send a `ping` event to a hook.
    Ping(HookArgs),
    /// Make GitHub send the latest push to a repository hook.
    Test {
        /// The repository.
        #[arg(long, value_name = "OWNER/REPO")]
        repo: HookTarget,
        /// The hook's id.
        #[arg(long, value_name = "ID")]
        hook: HookId,
    },
    /// Show a hook's configuration, or change single settings of it; with --app,
    /// the GitHub App's own hook (needs --app-id and --private-key).
    Config {
        #[command(flatten)]
        source: SourceArgs,
        /// A new delivery URL.
        #[arg(long)]
        url: Option<String>,
        /// A new payload encoding.
        #[arg(long, value_enum)]
        content_type: Option<ContentTypeArg>,
        /// Set the secret to the value of this environment variable.
        #[arg(long, value_name = "NAME")]
        secret_env: Option<String>,
    },
    /// Register a hook idempotently: find the one with --url, update it if it
    /// differs, create it if missing; prints its id.
    Ensure {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Debug, Args)]
struct HookArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The hook's id.
    #[arg(long, value_name = "ID")]
    hook: HookId,
}

/// What `create` and `ensure` register.
#[derive(Debug, Args)]
struct Settings {
    /// Where GitHub delivers.
    #[arg(long)]
    url: String,
    /// The events to deliver (comma-separated).
    #[arg(long, value_name = "EVENTS", default_value = "push")]
    events: String,
    /// The environment variable holding the webhook secret.
    #[arg(long, value_name = "NAME")]
    secret_env: Option<String>,
    /// How payloads are encoded.
    #[arg(long, value_enum, default_value = "json")]
    content_type: ContentTypeArg,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ContentTypeArg {
    Json,
    Form,
}

impl From<ContentTypeArg> for HookContentType {
    fn from(arg: ContentTypeArg) -> Self {
        match arg {
            ContentTypeArg::Json => Self::Json,
            ContentTypeArg::Form => Self::Form,
        }
    }
}

fn secret(env: Option<&str>) -> Result<Option<octohook_client::WebhookSecret>, GithubCommandError> {
    Ok(env.map(secrets::from_env).transpose()?)
}

fn hook_line(out: &mut dyn Write, hook: &RegisteredHook) -> std::io::Result<()> {
    let events: Vec<&str> = hook.events.iter().map(|e| e.as_str()).collect();
    writeln!(
        out,
        "{}\t{}\t{}\t{}",
        hook.id,
        if hook.active { "active" } else { "inactive" },
        events.join(","),
        hook.config.url.as_deref().unwrap_or("-"),
    )
}

fn config_lines(out: &mut dyn Write, config: &RegisteredHookConfig) -> std::io::Result<()> {
    writeln!(out, "url\t{}", config.url.as_deref().unwrap_or("-"))?;
    writeln!(
        out,
        "content_type\t{}",
        config.content_type.as_ref().map_or("-", |c| c.as_str())
    )?;
    writeln!(
        out,
        "insecure_ssl\t{}",
        config.insecure_ssl.as_ref().map_or("-", |c| c.as_str())
    )?;
    writeln!(
        out,
        "secret\t{}",
        if config.has_secret { "set" } else { "none" }
    )
}

/// How a hook is named in a confirmation: `123 of owner/repo`, `123 of org acme`.
fn hook_name(target: &HookTarget, hook: HookId) -> String {
    match target {
        HookTarget::Repository { owner, repo } => format!("{hook} of {owner}/{repo}"),
        other => format!("{hook} of {other}"),
    }
}

/// Asks `question [y/N]` on stderr and reads the answer from stdin, when stdin
/// is a terminal; `--yes` answers for it. Anything but y/yes aborts (exit 8).
fn confirm(question: &str, yes: bool) -> Result<(), GithubCommandError> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(GithubCommandError::Aborted(format!(
            "not deleting: {question} needs confirmation; pass --yes"
        )));
    }
    eprint!("{question}? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(GithubCommandError::Aborted("not deleted".into()))
    }
}

/// Runs `octohook hooks …`; errors come out as `main` classifies them.
pub(crate) async fn run(args: HooksArgs) -> Result<(), Box<dyn std::error::Error>> {
    execute(args).await.map_err(GithubCommandError::into_boxed)
}

async fn execute(args: HooksArgs) -> Result<(), GithubCommandError> {
    let github = &args.github;
    if let HooksCommand::Config {
        source,
        url,
        content_type,
        secret_env,
    } = &args.command
    {
        return config(github, source, url, *content_type, secret_env.as_deref()).await;
    }
    let client = github.client(Identity::Default)?;
    match args.command {
        HooksCommand::List { target } => {
            let hooks = client.hooks(target.target()?).list().await?;
            github.print(&hooks, |out| {
                hooks.iter().try_for_each(|hook| hook_line(out, hook))
            })
        }
        HooksCommand::Get(hook) => {
            let found = client.hooks(hook.target.target()?).get(hook.hook).await?;
            github.print(&found, |out| hook_line(out, &found))
        }
        HooksCommand::Create {
            target,
            settings,
            inactive,
        } => {
            let mut new = NewHook::new(settings.url);
            new.events = parse_events(&settings.events);
            new.content_type = Some(settings.content_type.into());
            new.secret = secret(settings.secret_env.as_deref())?;
            new.active = !inactive;
            let created = client.hooks(target.target()?).create(&new).await?;
            github.print(&created, |out| writeln!(out, "{}", created.id))
        }
        HooksCommand::Update {
            hook,
            events,
            add_events,
            remove_events,
            active,
        } => {
            let mut update = HookUpdate::default();
            update.events = events.as_deref().map(parse_events);
            update.add_events = add_events.as_deref().map(parse_events).unwrap_or_default();
            update.remove_events = remove_events
                .as_deref()
                .map(parse_events)
                .unwrap_or_default();
            update.active = active;
            let updated = client
                .hooks(hook.target.target()?)
                .update(hook.hook, &update)
                .await?;
            github.print(&updated, |out| hook_line(out, &updated))
        }
        HooksCommand::Delete { hook, yes } => {
            let target = hook.target.target()?;
            confirm(
                &format!("delete hook {}", hook_name(&target, hook.hook)),
                yes,
            )?;
            client.hooks(target).delete(hook.hook).await?;
            github.print(&serde_json::json!({"deleted": hook.hook}), |out| {
                writeln!(out, "deleted {}", hook.hook)
            })
        }
        HooksCommand::Ping(hook) => {
            client.hooks(hook.target.target()?).ping(hook.hook).await?;
            github.print(&serde_json::json!({"pinged": hook.hook}), |out| {
                writeln!(out, "pinged {}", hook.hook)
            })
        }
        HooksCommand::Test { repo, hook } => {
            client.hooks(repo).test(hook).await?;
            github.print(&serde_json::json!({"tested": hook}), |out| {
                writeln!(out, "tested {hook}")
            })
        }
        HooksCommand::Config { .. } => unreachable!("handled above"),
        HooksCommand::Ensure { target, settings } => {
            let target = target.target()?;
            let secret = secret(settings.secret_env.as_deref())?;
            let ensured = client
                .ensure_hook(
                    &target,
                    &settings.url,
                    &parse_events(&settings.events),
                    secret.as_ref(),
                    settings.content_type.into(),
                )
                .await?;
            tracing::info!(hook = %ensured.hook.id, action = ?ensured.action, %target, "ensured webhook");
            github.print(
                &serde_json::json!({"id": ensured.hook.id, "action": format!("{:?}", ensured.action).to_lowercase()}),
                |out| writeln!(out, "{}", ensured.hook.id),
            )
        }
    }
}

/// `hooks config`: a repository's or organization's hook, or the app's own.
async fn config(
    github: &GithubOptions,
    source: &SourceArgs,
    url: &Option<String>,
    content_type: Option<ContentTypeArg>,
    secret_env: Option<&str>,
) -> Result<(), GithubCommandError> {
    let hook = source.hook_ref(github)?;
    let client = github.client(identity(&hook))?;
    let update = if url.is_none() && content_type.is_none() && secret_env.is_none() {
        None
    } else {
        let mut update = ConfigUpdate::default();
        update.url = url.clone();
        update.content_type = content_type.map(Into::into);
        update.secret = secret(secret_env)?;
        Some(update)
    };
    let config = match &update {
        None => client.hook_config(&hook).await?,
        Some(update) => client.update_hook_config(&hook, update).await?,
    };
    github.print(&config, |out| config_lines(out, &config))
}
