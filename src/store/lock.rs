//! One daemon per state directory: an exclusive lock on `daemon.lock` in it, held for the
//! daemon's life.
//!
//! SQLite keeps two daemons' transactions apart, but not their work: two daemons on one
//! journal would both converge the same orgs, each writing what the other just wrote, and
//! the control socket only catches a second daemon on the *same* socket path. The lock is
//! an advisory `flock` the kernel drops when the process dies, so a `kill -9` never leaves a
//! stale lock behind.

use std::fs::{File, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use super::StoreError;

/// The lock file's name inside the state directory.
pub const LOCK_FILE_NAME: &str = "daemon.lock";

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct StateDirLock {
    _file: File,
    path: PathBuf,
}

impl StateDirLock {
    /// Takes the lock on `state_dir` (created 0700 if missing) without waiting, and writes
    /// this process's id into the file so the next one can name the holder.
    pub fn acquire(state_dir: &Path) -> Result<StateDirLock, StoreError> {
        super::create_state_dir(state_dir)?;
        let path = state_dir.join(LOCK_FILE_NAME);
        let open_error = |source| StoreError::OpenFile {
            path: path.clone(),
            source,
        };
        let mut file = super::open_private(&path).map_err(open_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // Best effort: the pid is only for the message.
                let _ = file.read_to_string(&mut holder);
                return Err(StoreError::InUse {
                    dir: state_dir.to_path_buf(),
                    holder: holder.trim().parse().ok(),
                });
            }
            Err(TryLockError::Error(source)) => return Err(open_error(source)),
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(open_error)?;
        Ok(StateDirLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
