//! The socket file: finding a live daemon or a stale file at the path, binding with the right
//! mode and group, and removing the file again.
//!
//! There is no way to bind under a restrictive umask without `unsafe` (`umask(2)` is
//! process-wide), so the socket is bound under a temporary name in the same directory, given
//! its mode and group there, and then renamed onto the configured path. `rename(2)` is atomic,
//! so the configured path never names a socket with the wrong permissions, and the listener
//! keeps working because it is bound to the inode, not the name. The peer check in
//! [`super::auth`] covers the short time the temporary name exists.

use std::fs::{self, DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};

/// A unix socket address holds at most this many path bytes (108 with the final NUL).
const MAX_SOCKET_PATH: usize = 107;

/// How long the start-up probe waits for whatever listens at the path to accept. A daemon
/// that is alive accepts at once; one that is wedged still owns the path.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(
        "another pauseplay daemon is already listening on {path}; stop it first \
         (systemctl stop pauseplay) or configure another daemon.socket"
    )]
    AlreadyRunning { path: PathBuf },
    #[error("{path} exists and is not a socket; remove it or configure another daemon.socket")]
    NotASocket { path: PathBuf },
    #[error("socket_group {group:?} does not exist; create it or change daemon.socket_group")]
    UnknownGroup { group: String },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> BindError + 'a {
    move |source| BindError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The socket file the server created; removed on drop if it is still the same file.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    /// Device and inode of the file, so that a file someone else put at the path later is
    /// never removed.
    id: (u64, u64),
}

impl SocketFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn remove(&self) {
        match fs::symlink_metadata(&self.path) {
            // Inode numbers are reused at once on some file systems, so a file that took
            // the path after ours was deleted may carry our number; only a socket is ours.
            Ok(meta) if meta.file_type().is_socket() && (meta.dev(), meta.ino()) == self.id => {
                if let Err(error) = fs::remove_file(&self.path) {
                    tracing::warn!(path = %self.path.display(), %error, "cannot remove the control socket");
                }
            }
            Ok(_) => {
                tracing::warn!(path = %self.path.display(), "the control socket was replaced; leaving the new file");
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error, "cannot inspect the control socket");
            }
        }
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Binds the control socket at `path`: mode 0600, or 0660 owned by group `gid`.
///
/// Refuses when a daemon answers at `path`; removes a socket file nobody listens on; creates
/// the parent directory (0700, or 0750 with the group) if it is missing.
pub async fn bind(path: &Path, gid: Option<u32>) -> Result<(UnixListener, SocketFile), BindError> {
    clear_stale(path).await?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    ensure_dir(dir, gid)?;

    let mode = if gid.is_some() { 0o660 } else { 0o600 };
    let temporary = dir.join(format!(".pauseplay-{}.sock", std::process::id()));
    let listener = if temporary.as_os_str().len() <= MAX_SOCKET_PATH {
        let listener = bind_with_mode(&temporary, mode, gid)?;
        fs::rename(&temporary, path).map_err(|error| {
            let _ = fs::remove_file(&temporary);
            io_error("rename the new socket to", path)(error)
        })?;
        listener
    } else {
        // The temporary name does not fit a socket address (the configured one just does):
        // bind in place. The file briefly has the umask's mode; the peer check still holds.
        bind_with_mode(path, mode, gid)?
    };
    let meta = fs::symlink_metadata(path).map_err(io_error("inspect", path))?;
    let file = SocketFile {
        path: path.to_path_buf(),
        id: (meta.dev(), meta.ino()),
    };
    Ok((listener, file))
}

/// Errors out if a daemon is live at `path`; removes the file if it is a dead socket.
async fn clear_stale(path: &Path) -> Result<(), BindError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(io_error("inspect", path)(error)),
    };
    if !meta.file_type().is_socket() {
        return Err(BindError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    match tokio::time::timeout(PROBE_TIMEOUT, UnixStream::connect(path)).await {
        // Accepting, or alive but not accepting fast enough (a full backlog answers
        // `WouldBlock`): either way the path belongs to a running daemon.
        Ok(Ok(_)) | Err(_) => Err(BindError::AlreadyRunning {
            path: path.to_path_buf(),
        }),
        Ok(Err(error)) if error.kind() == io::ErrorKind::WouldBlock => {
            Err(BindError::AlreadyRunning {
                path: path.to_path_buf(),
            })
        }
        Ok(Err(error)) if error.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "removing a stale control socket");
            match fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(error) => Err(io_error("remove the stale socket", path)(error)),
            }
        }
        Ok(Err(error)) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Ok(Err(error)) => Err(io_error("probe the existing socket", path)(error)),
    }
}

fn ensure_dir(dir: &Path, gid: Option<u32>) -> Result<(), BindError> {
    if dir.exists() {
        return Ok(());
    }
    // Only the directory we create gets these modes; an existing one (systemd's
    // RuntimeDirectory=) is the administrator's.
    let mode = if gid.is_some() { 0o750 } else { 0o700 };
    DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(io_error("create the socket directory", dir))?;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(dir, None, Some(gid))
            .map_err(io_error("give the socket group ownership of", dir))?;
    }
    Ok(())
}

fn bind_with_mode(path: &Path, mode: u32, gid: Option<u32>) -> Result<UnixListener, BindError> {
    // A leftover from an earlier start with the same pid (pids are reused after reboots).
    if path
        .file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with(".pauseplay-"))
    {
        let _ = fs::remove_file(path);
    }
    let listener =
        UnixListener::bind(path).map_err(io_error("bind the control socket at", path))?;
    let finish = || -> Result<(), BindError> {
        if let Some(gid) = gid {
            std::os::unix::fs::chown(path, None, Some(gid))
                .map_err(io_error("give the socket group ownership of", path))?;
        }
        fs::set_permissions(path, Permissions::from_mode(mode))
            .map_err(io_error("set the mode of", path))
    };
    if let Err(error) = finish() {
        let _ = fs::remove_file(path);
        return Err(error);
    }
    Ok(listener)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_regular_file_at_the_path_is_never_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        fs::write(&path, "precious").unwrap();
        let error = bind(&path, None).await.unwrap_err();
        assert!(matches!(error, BindError::NotASocket { .. }), "{error}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "precious");
    }

    #[tokio::test]
    async fn a_replaced_socket_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let (listener, file) = bind(&path, None).await.unwrap();
        drop(listener);
        fs::remove_file(&path).unwrap();
        fs::write(&path, "someone else's").unwrap();
        drop(file);
        assert_eq!(fs::read_to_string(&path).unwrap(), "someone else's");
    }

    #[tokio::test]
    async fn no_temporary_file_is_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let (_listener, _file) = bind(&path, None).await.unwrap();
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("control.sock")]);
    }
}
