//! The process's limit on open files, which bounds its connections.

/// Raises the soft limit on open file descriptors (`RLIMIT_NOFILE`) to the hard
/// limit, and returns the soft limit in effect: what [`serve`](super::serve)
/// derives its default connection cap from. `None` where the limit cannot be
/// read (systems other than Unix).
///
/// A common default soft limit is 1,024, far below the hard limit: without
/// raising it, a flood of idle connections exhausts descriptors long before
/// memory, and every `accept` then fails.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => Some(limit),
            Err(error) => {
                tracing::warn!(%error, "cannot raise the open-file limit");
                open_file_limit()
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The soft limit on open file descriptors, where it can be read.
pub(crate) fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft)
    }
    #[cfg(not(unix))]
    {
        None
    }
}
