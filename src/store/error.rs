//! The store's errors. Each names the database file and says what to do next, because the
//! person reading it is usually an operator looking at a daemon that would not start.
//!
//! None of them is ever answered by recreating or resetting the database: the journal in it
//! is the only record of what paused components must be restored to.

use std::io;
use std::path::{Path, PathBuf};

use super::types::{ComponentKey, Step};

/// SQLite primary result codes the store tells apart (<https://www.sqlite.org/rescode.html>).
/// sqlx reports the extended code; the primary code is its low byte.
const SQLITE_PERM: i64 = 3;
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_READONLY: i64 = 8;
const SQLITE_CORRUPT: i64 = 11;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_NOTADB: i64 = 26;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot create the state directory {}: {source}; create it (mode 0700, owned by the user the daemon runs as) or point daemon.state_dir elsewhere",
        dir.display()
    )]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "another pauseplay daemon{} is using the state directory {}; two daemons would both change the same orgs. Stop it (`systemctl stop pauseplay`) or give this one its own daemon.state_dir",
        holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
        dir.display()
    )]
    InUse { dir: PathBuf, holder: Option<u32> },

    #[error(
        "cannot open or create the state database {}: {source}; check that the file and its directory exist and belong to the user the daemon runs as",
        path.display()
    )]
    OpenFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "the state database {} is not a SQLite database (\"file is not a database\"); pauseplay will not overwrite it. Move it aside and restore it from a backup; do not delete it while automations may be paused, because it holds their saved states",
        path.display()
    )]
    NotADatabase { path: PathBuf },

    #[error(
        "the state database {} is corrupted ({message}); pauseplay will not repair or reset it. Stop the daemon, copy the file with its -wal and -shm files, and try `sqlite3 {} .recover` on the copy; the journal in it holds the saved states of paused automations",
        path.display(),
        path.display()
    )]
    Corrupt { path: PathBuf, message: String },

    #[error(
        "the state database {} cannot be written ({message}); make the file, its -wal and -shm files and its directory writable by the user the daemon runs as, and check the file system is not mounted read-only",
        path.display()
    )]
    ReadOnly { path: PathBuf, message: String },

    #[error(
        "SQLite cannot open the state database {} or the -wal and -shm files beside it ({message}); make the file and its directory readable and writable by the user the daemon runs as (SQLite creates those files in the directory)",
        path.display()
    )]
    CantOpen { path: PathBuf, message: String },

    #[error(
        "the state database {} is locked by another process (waited {} s: {message}); is another pauseplay daemon using the same state_dir, or a `sqlite3` shell holding a transaction open? Stop it and try again",
        path.display(),
        super::BUSY_TIMEOUT.as_secs()
    )]
    Locked { path: PathBuf, message: String },

    #[error(
        "the disk holding the state database {} is full ({message}); free space there; no pause or restore can be recorded until then",
        path.display()
    )]
    DiskFull { path: PathBuf, message: String },

    #[error(
        "the state database {} was set up with {setting} = {found} instead of {wanted}; the journal must survive power loss, so pauseplay will not run without it. Check the file system supports it (WAL needs shared memory, e.g. not a network file system)",
        path.display()
    )]
    Durability {
        path: PathBuf,
        setting: &'static str,
        found: String,
        wanted: &'static str,
    },

    #[error(
        "cannot bring the schema of the state database {} up to date: {source}; if it was written by a newer pauseplay, run that version (pauseplay never downgrades a database); if a released migration was edited, restore the original file",
        path.display()
    )]
    Migrate {
        path: PathBuf,
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    #[error(
        "refusing to journal {key} ({api_name}) as pausing: the state database {} already has it as `{step}`, and its saved prior state must not be replaced by a paused one; restore it first (this is a bug in the caller)",
        path.display()
    )]
    JournalConflict {
        path: PathBuf,
        key: ComponentKey,
        api_name: String,
        step: Step,
    },

    #[error(
        "no journal entry for {key} in the state database {}; a step can only be changed after record_pausing wrote the component (this is a bug in the caller); nothing of this batch was written",
        path.display()
    )]
    UnknownJournalEntry { path: PathBuf, key: ComponentKey },

    #[error(
        "the state database {} already has a hold for window `{window}` starting at {occurrence_start} in org `{org}`; an occurrence is held at most once, so it is never replayed after it ended or was ended early",
        path.display()
    )]
    DuplicateWindowHold {
        path: PathBuf,
        org: String,
        window: String,
        occurrence_start: jiff::Timestamp,
    },

    #[error(
        "the state database {} holds a value pauseplay cannot read ({what}); it may have been written by a newer pauseplay or edited by hand. Do not delete it: it holds the saved states of paused automations",
        path.display()
    )]
    InvalidRow { path: PathBuf, what: String },

    #[error(
        "cannot store {what}: {message}; the state database {} was left unchanged",
        path.display()
    )]
    InvalidValue {
        path: PathBuf,
        what: &'static str,
        message: String,
    },

    #[error(
        "the state database {} failed while trying to {op}: {source}",
        path.display()
    )]
    Database {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

impl StoreError {
    /// Classifies a sqlx error by SQLite's result code into the variant that tells the operator
    /// what to do. `op` says what the store was doing, for the errors that stay generic.
    pub(crate) fn from_sqlx(path: &Path, op: &'static str, error: sqlx::Error) -> StoreError {
        let path = path.to_path_buf();
        let code = match &error {
            sqlx::Error::Database(db) => db.code().and_then(|code| code.parse::<i64>().ok()),
            sqlx::Error::Io(io) => match io.kind() {
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                    Some(SQLITE_READONLY)
                }
                io::ErrorKind::StorageFull => Some(SQLITE_FULL),
                _ => None,
            },
            _ => None,
        };
        let message = match &error {
            sqlx::Error::Database(db) => db.message().to_owned(),
            other => other.to_string(),
        };
        match code.map(|code| code & 0xff) {
            Some(SQLITE_NOTADB) => StoreError::NotADatabase { path },
            Some(SQLITE_CORRUPT) => StoreError::Corrupt { path, message },
            Some(SQLITE_READONLY | SQLITE_PERM) => StoreError::ReadOnly { path, message },
            Some(SQLITE_BUSY | SQLITE_LOCKED) => StoreError::Locked { path, message },
            Some(SQLITE_FULL) => StoreError::DiskFull { path, message },
            Some(SQLITE_CANTOPEN) => StoreError::CantOpen { path, message },
            // Everything else (IOERR, constraint failures, ...) keeps the full sqlx
            // error as its source, and `op` says what the store was doing.
            _ => StoreError::Database {
                path,
                op,
                source: error,
            },
        }
    }

    pub(crate) fn from_migrate(path: &Path, error: sqlx::migrate::MigrateError) -> StoreError {
        use sqlx::migrate::MigrateError;
        // A migration failing on a locked, read-only or corrupted file is that problem, not a
        // schema problem: report it the same way as when it happens anywhere else.
        let (inner, version) = match error {
            MigrateError::Execute(inner) => (inner, None),
            MigrateError::ExecuteMigration(inner, version) => (inner, Some(version)),
            other => {
                return StoreError::Migrate {
                    path: path.to_path_buf(),
                    source: other,
                };
            }
        };
        match StoreError::from_sqlx(path, "migrate the schema", inner) {
            StoreError::Database { source, .. } => StoreError::Migrate {
                path: path.to_path_buf(),
                source: match version {
                    Some(version) => MigrateError::ExecuteMigration(source, version),
                    None => MigrateError::Execute(source),
                },
            },
            classified => classified,
        }
    }
}
