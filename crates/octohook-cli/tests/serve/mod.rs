//! `octohook serve` through the real binary, on a port of its own, with its
//! standard error kept for the test to read.

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use octohook_test_battery::SECRET;

const BIN: &str = env!("CARGO_BIN_EXE_octohook");

/// A running `octohook serve`, SIGKILLed when dropped.
pub(crate) struct Serve {
    child: Child,
    address: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    /// Starts `octohook serve --bind 127.0.0.1:0 ARGS`.
    pub(crate) fn start(args: &[&str]) -> Self {
        Self::start_with(Command::new(BIN), args)
    }

    /// Starts `octohook serve ARGS` with `envs` on top of the test's environment.
    pub(crate) fn start_with_env(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command.envs(envs.iter().copied());
        Self::start_with(command, args)
    }

    /// Starts `octohook serve ARGS` through `command` (the binary itself, or a
    /// wrapper that executes it, such as `setpriv`). The secret is [`SECRET`]
    /// and the log level `info` unless `command` sets them.
    pub(crate) fn start_with(mut command: Command, args: &[&str]) -> Self {
        let sets = |command: &Command, name: &str| command.get_envs().any(|(set, _)| set == name);
        // Unless the test sets them, the variables of the environment running
        // the tests must not pick the store or a broker.
        for name in ["OCTOHOOK_DATABASE_URL", "OCTOHOOK_PUBLISH"] {
            if !sets(&command, name) {
                command.env_remove(name);
            }
        }
        for (name, value) in [("GITHUB_WEBHOOK_SECRET", SECRET), ("OCTOHOOK_LOG", "info")] {
            if !sets(&command, name) {
                command.env(name, value);
            }
        }
        let mut child = command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("octohook starts");
        let stderr = child.stderr.take().expect("piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (found, address) = mpsc::channel();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("octohook: listening on http://") {
                    let address: SocketAddr = rest.split('/').next().unwrap().parse().unwrap();
                    if let Some(found) = found.take() {
                        let _ = found.send(address);
                    }
                }
                lines.lock().unwrap().push(line);
            }
        });
        let Ok(address) = address.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "octohook serve did not start:\n{}",
                log.lock().unwrap().join("\n")
            );
        };
        Self {
            child,
            address,
            log,
        }
    }

    /// Its process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Where it listens.
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// Where its admin endpoints listen, with `--admin-bind`. It says so before
    /// it says where it listens, so the line is already kept.
    pub(crate) fn admin(&self) -> SocketAddr {
        let log = self.log.lock().unwrap();
        let rest = log
            .iter()
            .find_map(|line| line.strip_prefix("octohook: admin endpoints at http://"))
            .expect("serve announced its admin endpoints");
        rest.split('/').next().unwrap().parse().unwrap()
    }

    /// The URL deliveries are posted to.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Everything it wrote on standard error so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGKILL (no chance to clean up), and waits for it to end.
    pub(crate) fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, and waits for a clean exit.
    pub(crate) fn terminate(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "serve exited with {exit}:\n{}", self.log());
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
