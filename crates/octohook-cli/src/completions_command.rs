//! `octohook completions`: the shell completion script of a shell.

use std::io::Write;

use clap::Args;
use clap_complete::Shell;

/// Prints the completion script of SHELL on standard output, for instance
/// `octohook completions bash > ~/.local/share/bash-completion/completions/octohook`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

pub(crate) fn run(args: CompletionsArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut command = crate::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "octohook", &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        // A closed pipe (`octohook completions bash | head`) is no failure.
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write the script: {error}").into())
        }
        _ => Ok(()),
    }
}
