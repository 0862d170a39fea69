//! [`SmallDisk`]: a file system that fills up, to test what a receiver does when
//! its disk is full.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of a few kilobytes mounted on a fresh directory, unmounted when
/// dropped. Mounting needs root (or `CAP_SYS_ADMIN`).
#[derive(Debug)]
pub struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (`64k`, as `mount -o size=` reads it). `None`,
    /// after saying so on standard error, when this process may not mount.
    ///
    /// # Panics
    /// When mounting fails for another reason than a lack of permission.
    pub fn mount(size: &str) -> Option<Self> {
        let dir =
            std::env::temp_dir().join(format!("octohook-small-disk-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).expect("a temporary directory");
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .output()
            .expect("mount runs");
        if output.status.success() {
            return Some(Self { dir });
        }
        let _ = std::fs::remove_dir(&dir);
        let why = String::from_utf8_lossy(&output.stderr);
        let lowered = why.to_lowercase();
        assert!(
            lowered.contains("permission denied")
                || lowered.contains("only root")
                || lowered.contains("not permitted"),
            "cannot mount a tmpfs: {why}"
        );
        eprintln!("SKIPPED: this test needs to mount a tmpfs, and may not: {why}");
        None
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: a receiver killed a moment ago may still hold a file open.
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}
