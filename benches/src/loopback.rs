//! What the loopback bench servers (`src/bin/bench-*.rs`) share: their command
//! line, the tokio runtime they run on, and serving an axum router.
//!
//! The servers are fixtures for `benches/compare/e2e`, which drives them with wrk
//! on 127.0.0.1; they are not examples of how to receive webhooks. Each one reads:
//!
//! - `GITHUB_WEBHOOK_SECRET`: the secret deliveries are signed with (non-empty);
//! - `--bind ADDR`, else `OCTOHOOK_BIND`, else `127.0.0.1:3000`: where to listen;
//! - `--runtime current-thread|multi-thread` and, for `multi-thread`,
//!   `--workers N`: the tokio runtime (default: multi-thread with tokio's default
//!   number of workers).
//!
//! Once listening, a server prints `listening on http://ADDR/` and then
//! `runtime: FLAVOUR, N worker thread(s)` to standard error. tokio's default
//! worker count follows the CPUs the process may run on, so a server started
//! under `taskset -c 0` gets one worker unless `--workers` says otherwise.

use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::process::ExitCode;

use axum::Router;

/// The address a server listens on when neither `--bind` nor `OCTOHOOK_BIND` is
/// given.
pub const DEFAULT_BIND: &str = "127.0.0.1:3000";

/// The tokio runtime a server runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeFlavour {
    /// Everything on the thread that calls `block_on`.
    CurrentThread,
    /// A work-stealing pool of `workers` threads (tokio's default count when
    /// `None`: one per CPU the process may run on).
    MultiThread {
        /// The number of worker threads.
        workers: Option<NonZeroUsize>,
    },
}

impl RuntimeFlavour {
    /// Builds the runtime, with I/O and timers enabled.
    pub fn build(self) -> std::io::Result<tokio::runtime::Runtime> {
        let mut builder = match self {
            Self::CurrentThread => tokio::runtime::Builder::new_current_thread(),
            Self::MultiThread { workers } => {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                if let Some(workers) = workers {
                    builder.worker_threads(workers.get());
                }
                builder
            }
        };
        builder.enable_all().build()
    }
}

impl fmt::Display for RuntimeFlavour {
    /// The `--runtime` value that selects this flavour.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CurrentThread => "current-thread",
            Self::MultiThread { .. } => "multi-thread",
        })
    }
}

/// A server's command line, with `OCTOHOOK_BIND` as the fallback address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerOptions {
    /// Where to listen.
    pub bind: SocketAddr,
    /// The runtime to serve on.
    pub runtime: RuntimeFlavour,
}

impl ServerOptions {
    /// Reads `args` (without the program name); `bind_env` is the value of
    /// `OCTOHOOK_BIND`, used when there is no `--bind`.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        bind_env: Option<String>,
    ) -> Result<Self, OptionsError> {
        let mut bind = None;
        let mut runtime = None;
        let mut workers = None;
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .ok_or_else(|| OptionsError::MissingValue(flag.clone()))
            };
            match flag.as_str() {
                "--bind" => bind = Some(value()?),
                "--runtime" => runtime = Some(value()?),
                "--workers" => {
                    let text = value()?;
                    let count = text
                        .parse::<NonZeroUsize>()
                        .map_err(|_| OptionsError::BadWorkers(text))?;
                    workers = Some(count);
                }
                _ => return Err(OptionsError::UnknownArgument(flag)),
            }
        }
        let bind = bind.or(bind_env).unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind = bind
            .parse::<SocketAddr>()
            .map_err(|_| OptionsError::BadBind(bind))?;
        let runtime = match (runtime.as_deref(), workers) {
            (Some("current-thread"), None) => RuntimeFlavour::CurrentThread,
            (Some("current-thread"), Some(_)) => return Err(OptionsError::WorkersNeedMultiThread),
            (Some("multi-thread") | None, workers) => RuntimeFlavour::MultiThread { workers },
            (Some(other), _) => return Err(OptionsError::UnknownRuntime(other.to_owned())),
        };
        Ok(Self { bind, runtime })
    }
}

/// A command line a server cannot run with.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionsError {
    /// A flag came last, without its value.
    MissingValue(String),
    /// An argument no server takes.
    UnknownArgument(String),
    /// `--bind` / `OCTOHOOK_BIND` is not a socket address.
    BadBind(String),
    /// `--runtime` is neither `current-thread` nor `multi-thread`.
    UnknownRuntime(String),
    /// `--workers` is not a positive number.
    BadWorkers(String),
    /// `--workers` was given with `--runtime current-thread`.
    WorkersNeedMultiThread,
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingValue(flag) => write!(f, "{flag} needs a value"),
            Self::UnknownArgument(argument) => write!(
                f,
                "unknown argument {argument:?} (takes --bind ADDR, --runtime current-thread|multi-thread, --workers N)"
            ),
            Self::BadBind(bind) => write!(f, "not a socket address: {bind}"),
            Self::UnknownRuntime(runtime) => write!(
                f,
                "unknown runtime {runtime:?} (current-thread or multi-thread)"
            ),
            Self::BadWorkers(workers) => {
                write!(f, "--workers wants a positive number, not {workers:?}")
            }
            Self::WorkersNeedMultiThread => {
                write!(f, "--workers applies to --runtime multi-thread only")
            }
        }
    }
}

impl Error for OptionsError {}

/// Runs a bench server: reads the command line and `GITHUB_WEBHOOK_SECRET`,
/// builds the router with `app(secret)`, and serves it until killed.
///
/// Failures are printed to standard error and end in `ExitCode::FAILURE`.
pub fn serve(app: impl FnOnce(&[u8]) -> Result<Router, Box<dyn Error>>) -> ExitCode {
    match try_serve(app) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

fn try_serve(
    app: impl FnOnce(&[u8]) -> Result<Router, Box<dyn Error>>,
) -> Result<(), Box<dyn Error>> {
    let options = ServerOptions::parse(
        std::env::args().skip(1),
        std::env::var("OCTOHOOK_BIND").ok(),
    )?;
    let secret = std::env::var("GITHUB_WEBHOOK_SECRET").unwrap_or_default();
    if secret.is_empty() {
        return Err(
            "set GITHUB_WEBHOOK_SECRET to the (non-empty) secret deliveries are signed with".into(),
        );
    }
    let app = app(secret.as_bytes())?;
    let runtime = options
        .runtime
        .build()
        .map_err(|error| format!("cannot start the runtime: {error}"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(options.bind)
            .await
            .map_err(|error| format!("cannot listen on {}: {error}", options.bind))?;
        let address = listener.local_addr()?;
        let workers = tokio::runtime::Handle::current().metrics().num_workers();
        eprintln!("listening on http://{address}/");
        eprintln!("runtime: {}, {workers} worker thread(s)", options.runtime);
        axum::serve(listener, app).await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], bind_env: Option<&str>) -> Result<ServerOptions, OptionsError> {
        ServerOptions::parse(
            args.iter().map(|arg| (*arg).to_owned()),
            bind_env.map(str::to_owned),
        )
    }

    #[test]
    fn defaults_to_loopback_and_tokio_default_pool() {
        let options = parse(&[], None).unwrap();
        assert_eq!(options.bind, DEFAULT_BIND.parse().unwrap());
        assert_eq!(
            options.runtime,
            RuntimeFlavour::MultiThread { workers: None }
        );
    }

    #[test]
    fn bind_flag_wins_over_environment() {
        let options = parse(&["--bind", "127.0.0.1:9"], Some("127.0.0.1:8")).unwrap();
        assert_eq!(options.bind, "127.0.0.1:9".parse().unwrap());
        let options = parse(&[], Some("127.0.0.1:8")).unwrap();
        assert_eq!(options.bind, "127.0.0.1:8".parse().unwrap());
    }

    #[test]
    fn reads_runtime_and_workers() {
        let options = parse(&["--runtime", "current-thread"], None).unwrap();
        assert_eq!(options.runtime, RuntimeFlavour::CurrentThread);
        let options = parse(&["--workers", "1", "--runtime", "multi-thread"], None).unwrap();
        assert_eq!(
            options.runtime,
            RuntimeFlavour::MultiThread {
                workers: NonZeroUsize::new(1)
            }
        );
    }

    #[test]
    fn rejects_bad_command_lines() {
        assert_eq!(
            parse(&["--runtime", "current-thread", "--workers", "2"], None),
            Err(OptionsError::WorkersNeedMultiThread)
        );
        assert_eq!(
            parse(&["--workers", "0"], None),
            Err(OptionsError::BadWorkers("0".into()))
        );
        assert_eq!(
            parse(&["--runtime", "single"], None),
            Err(OptionsError::UnknownRuntime("single".into()))
        );
        assert_eq!(
            parse(&["--bind"], None),
            Err(OptionsError::MissingValue("--bind".into()))
        );
        assert_eq!(
            parse(&["--port", "1"], None),
            Err(OptionsError::UnknownArgument("--port".into()))
        );
        assert_eq!(
            parse(&[], Some("localhost")),
            Err(OptionsError::BadBind("localhost".into()))
        );
    }

    #[test]
    fn builds_the_runtime_asked_for() {
        let runtime = RuntimeFlavour::CurrentThread.build().unwrap();
        assert_eq!(runtime.metrics().num_workers(), 1);
        let runtime = RuntimeFlavour::MultiThread {
            workers: NonZeroUsize::new(3),
        }
        .build()
        .unwrap();
        assert_eq!(runtime.metrics().num_workers(), 3);
    }
}
