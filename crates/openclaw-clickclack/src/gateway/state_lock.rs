//! One gateway per state directory: an exclusive advisory lock on
//! `<state dir>/gateway.lock`, held for the gateway's lifetime.
//!
//! The operating system releases the lock when the process exits in any
//! way, SIGKILL included, so it is never left stale; the file itself stays
//! and is reused. A second gateway on the same directory gets
//! [`GatewayError::StateDirLocked`].

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::GatewayError;

/// The lock file's name inside the state directory.
pub const LOCK_FILE: &str = "gateway.lock";

/// The held lock; dropping it releases the directory.
#[derive(Debug)]
pub struct StateDirLock {
    _file: File,
    path: PathBuf,
}

impl StateDirLock {
    /// Creates `dir` if needed and takes the lock without waiting.
    ///
    /// # Errors
    /// [`GatewayError::StateDirLocked`] when another process holds it;
    /// [`GatewayError::StateDir`] when the directory or file cannot be used.
    pub fn acquire(dir: &Path) -> Result<StateDirLock, GatewayError> {
        let io = |source| GatewayError::StateDir {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match try_lock(&file) {
            Ok(true) => Ok(StateDirLock { _file: file, path }),
            Ok(false) => Err(GatewayError::StateDirLocked {
                path: dir.to_path_buf(),
            }),
            Err(source) => Err(io(source)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `flock(LOCK_EX | LOCK_NB)`: `Ok(false)` when another open file holds it.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` only reads the descriptor, which `file` keeps open for the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(error)
    }
}

/// Without `flock` the directory is not locked.
#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = StateDirLock::acquire(dir.path()).expect("first lock");
        let second = StateDirLock::acquire(dir.path());
        assert!(
            matches!(second, Err(GatewayError::StateDirLocked { .. })),
            "{second:?}"
        );
        let message = second.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("another ClickClack gateway"), "{message}");
        drop(first);
        assert!(StateDirLock::acquire(dir.path()).is_ok());
    }
}
