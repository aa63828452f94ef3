//! Unit tests that need SQL of their own (the triggers, the constraints, a lock held by
//! another connection); the API is tested in `tests/store.rs`.

use std::path::Path;

use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Executor};

use super::*;
use crate::automation::Kind;

fn at(second: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_800_000_000 + second).expect("timestamp in range")
}

async fn store() -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Store::open(tmp.path()).await.expect("open");
    (tmp, store)
}

async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
        .await
        .expect("raw connection")
}

fn message(error: sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn history_rows_cannot_be_updated_or_deleted() {
    let (_tmp, store) = store().await;
    let id = store
        .append_history(&NewHistory {
            at: at(0),
            org: Some("prod".to_owned()),
            actor: Actor::daemon(),
            action: "pause".to_owned(),
            hold_id: None,
            detail: json!({}),
        })
        .await
        .expect("append");

    let update = sqlx::query("UPDATE history SET action = 'nothing happened' WHERE id = ?")
        .bind(id)
        .execute(&store.writer)
        .await
        .expect_err("update refused");
    assert_eq!(
        message(update),
        "history is append-only: its rows cannot be updated"
    );
    let delete = sqlx::query("DELETE FROM history")
        .execute(&store.writer)
        .await
        .expect_err("delete refused");
    assert_eq!(
        message(delete),
        "history is append-only: its rows cannot be deleted"
    );
    let history = store.history(None, 10).await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, "pause");
}

#[tokio::test]
async fn reads_go_through_query_only_connections() {
    let (_tmp, store) = store().await;
    let err = sqlx::query("DELETE FROM holds")
        .execute(&store.reader)
        .await
        .expect_err("reader cannot write");
    assert!(message(err).contains("readonly"));
}

#[tokio::test]
async fn the_schema_refuses_values_the_code_could_not_read() {
    let (_tmp, store) = store().await;
    store
        .record_pausing(
            &[NewJournalEntry {
                key: ComponentKey {
                    org: "prod".to_owned(),
                    kind: Kind::Flow,
                    sf_id: "300000000000001".to_owned(),
                },
                api_name: "F".to_owned(),
                object: None,
                prior_state: json!({ "activeVersionNumber": 3 }),
                set_state: json!({ "activeVersionNumber": 0 }),
            }],
            at(0),
        )
        .await
        .expect("record");
    for statement in [
        "UPDATE journal SET step = 'half-paused'",
        "UPDATE journal SET kind = 'flows'",
        "UPDATE journal SET prior_state = 'not json'",
        "UPDATE journal SET attempts = -1",
        "UPDATE journal SET attempts = 'many'",
        "INSERT INTO holds (org, source, owner_name, scope, created_at_ms, expires_at_ms) \
         VALUES ('prod', 'window', 'daemon', '{}', 0, 1)",
        "INSERT INTO holds (org, source, owner_name, scope, created_at_ms, expires_at_ms, \
         released_at_ms) VALUES ('prod', 'manual', 'daemon', '{}', 0, 1, 1)",
    ] {
        let result = sqlx::query(statement).execute(&store.writer).await;
        assert!(result.is_err(), "{statement} must be refused");
    }
}

#[tokio::test]
async fn a_lock_held_by_another_process_is_reported_after_the_busy_timeout() {
    let (_tmp, store) = store().await;
    // Another process (say, a `sqlite3` shell) holds a write transaction open.
    let mut other = raw(store.path()).await;
    other
        .execute("BEGIN IMMEDIATE")
        .await
        .expect("other takes the write lock");

    let started = std::time::Instant::now();
    let err = store
        .append_history(&NewHistory {
            at: at(0),
            org: None,
            actor: Actor::daemon(),
            action: "daemon_started".to_owned(),
            hold_id: None,
            detail: json!({}),
        })
        .await
        .expect_err("locked");
    assert!(started.elapsed() >= BUSY_TIMEOUT, "waited the busy timeout");
    assert!(matches!(&err, StoreError::Locked { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&store.path().display().to_string()) && text.contains("another pauseplay"),
        "{text}"
    );

    // Once the other process lets go, writes work again.
    other.execute("ROLLBACK").await.expect("release");
    store
        .append_history(&NewHistory {
            at: at(1),
            org: None,
            actor: Actor::daemon(),
            action: "daemon_started".to_owned(),
            hold_id: None,
            detail: json!({}),
        })
        .await
        .expect("append after the lock is gone");
}

#[tokio::test]
async fn a_database_from_a_newer_pauseplay_is_refused_not_downgraded() {
    let (tmp, store) = store().await;
    let path = store.path().to_path_buf();
    store.close().await;
    let mut other = raw(&path).await;
    other
        .execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (29991231000000, 'from the future', TRUE, x'00', 0)",
        )
        .await
        .expect("pretend a newer version migrated");
    other.close().await.expect("close");

    let err = Store::open(tmp.path()).await.expect_err("refused");
    assert!(matches!(&err, StoreError::Migrate { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()) && text.contains("newer pauseplay"),
        "{text}"
    );
}

#[tokio::test]
async fn open_refuses_a_database_another_process_is_writing_to() {
    let (tmp, store) = store().await;
    let path = store.path().to_path_buf();
    store.close().await;
    // In WAL mode this does not stop reads: only taking the write lock at open finds it.
    let mut other = raw(&path).await;
    other
        .execute("BEGIN IMMEDIATE")
        .await
        .expect("other takes the write lock");

    let started = std::time::Instant::now();
    let err = Store::open(tmp.path()).await.expect_err("locked at open");
    assert!(started.elapsed() >= BUSY_TIMEOUT, "waited the busy timeout");
    assert!(matches!(&err, StoreError::Locked { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    other.execute("ROLLBACK").await.expect("release");
    Store::open(tmp.path())
        .await
        .expect("opens once the lock is gone");
}

#[tokio::test]
async fn open_refuses_a_damaged_page_that_opening_alone_would_not_read() {
    let (tmp, store) = store().await;
    for i in 0..100 {
        store
            .append_history(&NewHistory {
                at: at(i),
                org: Some("prod".to_owned()),
                actor: Actor::daemon(),
                action: "pause".to_owned(),
                hold_id: None,
                detail: json!({ "pad": "x".repeat(200) }),
            })
            .await
            .expect("append");
    }
    let path = store.path().to_path_buf();
    store.close().await;

    // The last page holds history rows, which nothing reads at open but `quick_check`.
    let mut bytes = std::fs::read(&path).expect("read");
    let page = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    assert!(bytes.len() > 4 * page, "{} bytes", bytes.len());
    let last = bytes.len() - page;
    bytes[last..].fill(0xA5);
    std::fs::write(&path, &bytes).expect("damage");

    let err = Store::open(tmp.path()).await.expect_err("damaged");
    assert!(matches!(&err, StoreError::Corrupt { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()) && text.contains(".recover"),
        "{text}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), bytes, "left as it was");
}

#[tokio::test]
async fn a_hold_ending_past_the_last_readable_instant_is_refused_not_stored() {
    let (_tmp, store) = store().await;
    // What a start near the end of the calendar plus a duration saturates to.
    let hold = NewHold {
        org: "prod".to_owned(),
        source: HoldSource::AdHoc {
            name: "at-9999-12-30T21:00Z".to_owned(),
        },
        owner: Actor::daemon(),
        reason: None,
        scope: HoldScope::default(),
        created_at: at(0),
        starts_at: Some(at(0)),
        expires_at: jiff::Timestamp::MAX,
    };
    let err = store.insert_hold(&hold).await.expect_err("refused");
    assert!(matches!(&err, StoreError::InvalidValue { .. }), "{err:?}");
    assert!(err.to_string().contains("left unchanged"), "{err}");
    // Nothing was written that would break the reads of the holds.
    assert_eq!(store.recent_holds(10).await.expect("read"), vec![]);
    assert_eq!(store.upcoming_holds(at(0)).await.expect("read"), vec![]);
}
