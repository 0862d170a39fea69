//! `man`: the man pages of the `octohook` command, `crates/octohook-cli/man/`:
//! `octohook.1` and one page per subcommand at any depth (`octohook-serve.1`,
//! `octohook-inbox-list.1`), rendered by `clap_mangen` from the CLI's clap
//! definition ([`octohook_cli::command`]).

use std::collections::BTreeMap;

/// The directory of the pages, from the repository's root.
pub(crate) const DIR: &str = "crates/octohook-cli/man";

/// Every page, by file name.
pub(crate) fn render() -> Result<BTreeMap<String, String>, String> {
    let mut command = octohook_cli::command();
    // Propagates versions, global flags and names to the subcommands.
    command.build();
    let mut pages = BTreeMap::new();
    add(&command, &mut pages)?;
    Ok(pages)
}

fn add(command: &clap::Command, pages: &mut BTreeMap<String, String>) -> Result<(), String> {
    let name = command.get_name().to_owned();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .map_err(|e| format!("cannot render the page of {name}: {e}"))?;
    let page = String::from_utf8(page).map_err(|e| format!("page of {name}: {e}"))?;
    pages.insert(format!("{name}.1"), page);
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let full = format!("{name}-{}", sub.get_name());
        let bin = format!(
            "{} {}",
            command.get_bin_name().unwrap_or(&name),
            sub.get_name()
        );
        add(&sub.clone().name(full).bin_name(bin), pages)?;
    }
    Ok(())
}
