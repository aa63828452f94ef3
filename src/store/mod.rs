//! The state database, `state.db`: the only code in pauseplay that touches SQL.
//!
//! It holds three things:
//!
//! - **holds** ([`Hold`]): the reasons an org is paused (manual pauses, window occurrences, ad
//!   hoc windows). Holds are a set of rows, never a counter: an org is paused while one of its
//!   holds is in force, that is unreleased, started and unexpired (promise 3 of `DESIGN.md`).
//!   A hold with a `starts_at` in the future (an ad hoc window stored ahead of time) is
//!   *upcoming* until then ([`Store::upcoming_holds`]).
//! - **the journal** ([`JournalEntry`]): one row per component, written *before* the remote
//!   change, with the state found (restored at the end) and the state set (the compare-and-set
//!   guard of the restore). [`Store::record_pausing`] never replaces a prior state that has
//!   not been given back (promise 5).
//! - **history** ([`HistoryEntry`]): the audit trail. There is no API to change or delete it,
//!   and triggers in the schema refuse UPDATE and DELETE.
//!
//! Every public query and transaction runs in a `debug` span named `store` (nothing is logged
//! per call), so that a subscriber can sum the time an operation spends in the database: the
//! benchmark reports it as the journal's share of a pause.
//!
//! # Durability
//!
//! The file is SQLite in WAL mode with `synchronous=FULL`: a committed journal step survives a
//! `kill -9` and a power loss. WAL's default `NORMAL` would survive a crash of the process but
//! may lose the last commits on power loss, and a lost "pausing" row means a prior state that
//! can never be restored. `open` checks both settings took effect and refuses to run otherwise.
//!
//! Writes go through a pool of exactly one connection, and every write transaction starts with
//! `BEGIN IMMEDIATE`. The single connection serialises this process's writers in the pool's
//! queue instead of in SQLite's lock; `BEGIN IMMEDIATE` takes the write lock at the start of
//! the transaction, where SQLite waits for it up to the busy timeout. A plain (deferred)
//! `BEGIN` takes it only at the first write, and if another connection (another `Store`, or
//! another process such as a `sqlite3` shell) committed in between, SQLite answers
//! `SQLITE_BUSY` at once, bypassing the busy timeout. Reads use a separate small pool whose
//! connections are `query_only`; in WAL mode they never block the writer nor wait for it.
//!
//! # Files
//!
//! [`Store::open`] creates the state directory with mode 0700 and the database file with mode
//! 0600 *before* SQLite opens it (SQLite gives its `-wal` and `-shm` files the mode of the
//! database), so the state is never readable by others, not even for an instant. It never
//! recreates, resets or repairs an existing file: every problem is a [`StoreError`] that names
//! the file and what to do. It also finds at open what would otherwise show only later: a
//! damaged page anywhere in the file (`PRAGMA quick_check`) and another process holding the
//! write lock (it takes the lock once).
//!
//! Timestamps are stored as INTEGER Unix milliseconds; values read back have millisecond
//! precision. JSON values are stored as TEXT.

mod error;
mod history;
mod holds;
pub use holds::MISSED;
mod journal;
mod lock;
pub use lock::{LOCK_FILE_NAME, StateDirLock};
mod rows;
#[cfg(test)]
mod tests;
mod types;

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

pub use error::StoreError;
pub use types::{
    Actor, ComponentKey, HistoryEntry, Hold, HoldId, HoldScope, HoldSource, JournalEntry,
    NewHistory, NewHold, NewJournalEntry, Step, StepUpdate, UnknownStep,
};

/// The file name of the database inside the state directory.
pub const DB_FILE_NAME: &str = "state.db";

/// How long a statement waits for another connection's lock before failing with
/// [`StoreError::Locked`]. Write transactions are a few milliseconds, so this is only reached
/// when something holds the database far longer than pauseplay ever does.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read connections: enough for `status` and `history` to run beside the reconciler's reads.
const READ_CONNECTIONS: u32 = 4;

/// The migrations in `/migrations`, embedded at compile time (`build.rs` makes cargo notice new
/// files). sqlx records each applied migration's checksum and refuses to start if a released
/// one was edited.
static MIGRATOR: Migrator = sqlx::migrate!();

/// A handle on the state database. Cloning is cheap and shares the connection pools.
#[derive(Debug, Clone)]
pub struct Store {
    path: Arc<Path>,
    /// Exactly one connection: see the module documentation.
    writer: SqlitePool,
    /// `query_only` connections for reads.
    reader: SqlitePool,
}

/// Opens `path` for reading and writing, creating it 0600 (whatever the umask) if missing.
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

/// Creates the state directory, private, if it is missing.
fn create_state_dir(state_dir: &Path) -> Result<(), StoreError> {
    if state_dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .map_err(|source| StoreError::CreateDir {
            dir: state_dir.to_path_buf(),
            source,
        })
}

impl Store {
    /// Opens `state_dir/state.db`, creating `state_dir` (mode 0700) and the file (mode 0600) if
    /// they are missing, applies WAL, `synchronous=FULL`, the busy timeout and foreign keys,
    /// checks that the write lock can be taken and that every page is sound, and runs the
    /// pending migrations.
    ///
    /// An existing directory or file keeps its mode: pauseplay does not change permissions an
    /// operator chose.
    pub async fn open(state_dir: &Path) -> Result<Store, StoreError> {
        create_state_dir(state_dir)?;
        let path: Arc<Path> = Arc::from(state_dir.join(DB_FILE_NAME));

        // Create the file ourselves so it is 0600 from its first instant (SQLite would create
        // it with 0644 less the umask). An empty file is a valid, new SQLite database. Opening
        // it for writing also reports an unwritable file here, with the OS's reason.
        open_private(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                StoreError::ReadOnly {
                    path: path.to_path_buf(),
                    message: source.to_string(),
                }
            }
            _ => StoreError::OpenFile {
                path: path.to_path_buf(),
                source,
            },
        })?;

        let options = SqliteConnectOptions::new()
            .filename(&path)
            // The file exists now; if it vanished before SQLite opened it, fail rather than
            // quietly start from an empty journal.
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);

        // `connect_with` opens the first connection at once, so a corrupted, locked or
        // unreadable file is reported here rather than at the first query.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::from_sqlx(&path, "open it", e))?;

        check_durability(&path, &writer).await?;
        check_writable_now(&path, &writer).await?;
        check_integrity(&path, &writer).await?;

        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| StoreError::from_migrate(&path, e))?;

        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options.pragma("query_only", "ON"))
            .await
            .map_err(|e| StoreError::from_sqlx(&path, "open it for reading", e))?;

        Ok(Store {
            path,
            writer,
            reader,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the connections, checkpointing the WAL into the database file, and waits for
    /// that to finish. Other clones of this `Store` fail afterwards. Not required for
    /// durability (every commit already is durable); it leaves a tidy file on shutdown.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// Starts a write transaction with `BEGIN IMMEDIATE` (see the module documentation).
    async fn begin_write(
        &self,
        op: &'static str,
    ) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.error(op, e))
    }

    async fn commit(
        &self,
        tx: Transaction<'static, Sqlite>,
        op: &'static str,
    ) -> Result<(), StoreError> {
        tx.commit().await.map_err(|e| self.error(op, e))
    }

    /// Rolls back explicitly rather than by dropping the transaction, so the write connection
    /// is clean before the caller sees the error. A failed rollback is logged, not returned:
    /// the error that caused it is the one the caller needs, and sqlx rolls back again when
    /// the connection returns to the pool.
    async fn rollback(&self, tx: Transaction<'static, Sqlite>, op: &'static str) {
        if let Err(e) = tx.rollback().await {
            tracing::warn!(path = %self.path.display(), op, error = %e, "rollback failed");
        }
    }

    fn error(&self, op: &'static str, error: sqlx::Error) -> StoreError {
        StoreError::from_sqlx(&self.path, op, error)
    }
}

/// Verifies that WAL and `synchronous=FULL` are in force: SQLite does not fail when it cannot
/// switch to WAL (it stays in the old mode and says so only in the pragma's result).
async fn check_durability(path: &Path, pool: &SqlitePool) -> Result<(), StoreError> {
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .map_err(|e| StoreError::from_sqlx(path, "read its journal mode", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Durability {
            path: path.to_path_buf(),
            setting: "journal_mode",
            found: mode,
            wanted: "wal",
        });
    }
    // 2 is FULL (https://www.sqlite.org/pragma.html#pragma_synchronous).
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(pool)
        .await
        .map_err(|e| StoreError::from_sqlx(path, "read its synchronous setting", e))?;
    if synchronous != 2 {
        return Err(StoreError::Durability {
            path: path.to_path_buf(),
            setting: "synchronous",
            found: synchronous.to_string(),
            wanted: "2 (FULL)",
        });
    }
    Ok(())
}

/// Takes the write lock once. In WAL mode another process's write transaction (a `sqlite3`
/// shell left in `BEGIN`, a backup tool) does not stop reads, so without this the daemon
/// would start, report ready, and then fail every journal write; now it fails at start with
/// [`StoreError::Locked`] after the busy timeout, naming the file.
async fn check_writable_now(path: &Path, pool: &SqlitePool) -> Result<(), StoreError> {
    let error = |e| StoreError::from_sqlx(path, "take its write lock", e);
    let probe = pool.begin_with("BEGIN IMMEDIATE").await.map_err(error)?;
    probe.commit().await.map_err(error)
}

/// How many of `quick_check`'s findings an error quotes.
const INTEGRITY_FINDINGS: usize = 3;

/// Runs SQLite's `quick_check`, which reads every page. Opening the database reads only the
/// schema, so a damaged journal or history page would otherwise surface only when a converge
/// reads it, with the daemon already running and unable to finish; this makes it
/// [`StoreError::Corrupt`] at start. The check is linear in the file's size: milliseconds for
/// a state database.
async fn check_integrity(path: &Path, pool: &SqlitePool) -> Result<(), StoreError> {
    let findings: Vec<String> = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_all(pool)
        .await
        .map_err(|e| StoreError::from_sqlx(path, "check its integrity", e))?;
    if findings.len() == 1 && findings[0] == "ok" {
        return Ok(());
    }
    let mut message = findings
        .iter()
        .take(INTEGRITY_FINDINGS)
        .map(|finding| finding.trim())
        .collect::<Vec<_>>()
        .join("; ");
    if findings.len() > INTEGRITY_FINDINGS {
        message.push_str(&format!(
            "; and {} more",
            findings.len() - INTEGRITY_FINDINGS
        ));
    }
    Err(StoreError::Corrupt {
        path: path.to_path_buf(),
        message: format!("quick_check: {message}"),
    })
}
