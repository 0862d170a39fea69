//! Committed generated files kept in step with their sources: each command
//! (`codegen`, `man`) writes what changed and removes what is no longer made,
//! or, with `--check`, lists both and fails.

use std::path::{Path, PathBuf};

/// One command's pass over its generated files.
pub(crate) struct GeneratedFiles {
    check: bool,
    stale: Vec<String>,
}

impl GeneratedFiles {
    /// A pass that writes (or, with `check`, only compares).
    pub(crate) fn new(check: bool) -> Self {
        Self {
            check,
            stale: Vec::new(),
        }
    }

    /// Makes `path` hold `wanted`.
    pub(crate) fn update(&mut self, path: PathBuf, wanted: &str) -> Result<(), String> {
        if std::fs::read_to_string(&path).ok().as_deref() == Some(wanted) {
            return Ok(());
        }
        if self.check {
            self.stale.push(path.display().to_string());
            return Ok(());
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, wanted).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("wrote {}", path.display());
        Ok(())
    }

    /// Removes the files of `dir` ending in `extension` that `kept` refuses:
    /// generated once, no longer made. A missing `dir` has none.
    pub(crate) fn prune(
        &mut self,
        dir: &Path,
        extension: &str,
        kept: impl Fn(&str) -> bool,
        why: &str,
    ) -> Result<(), String> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if !name.ends_with(extension) || kept(name) {
                continue;
            }
            if self.check {
                self.stale.push(format!("{} ({why})", path.display()));
            } else {
                std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                println!("removed {}", path.display());
            }
        }
        Ok(())
    }

    /// Fails when a check found stale files, saying what is out of date with
    /// what and which `command` regenerates them.
    pub(crate) fn finish(self, out_of_date: &str, command: &str) -> Result<(), String> {
        if self.stale.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{out_of_date}: {}\nrun `cargo run -p xtask -- {command}` and commit the result",
            self.stale.join(", ")
        ))
    }
}
