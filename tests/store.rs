//! The state database: file creation and modes, holds, the write-ahead journal and its refusal
//! to lose a prior state, history, error messages, and concurrent writers.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use jiff::{SignedDuration, Timestamp};
use pauseplay::automation::Kind;
use pauseplay::store::{
    Actor, ComponentKey, HoldId, HoldScope, HoldSource, NewHistory, NewHold, NewJournalEntry, Step,
    StepUpdate, Store, StoreError,
};
use serde_json::json;

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).expect("timestamp in range")
}

fn alice() -> Actor {
    Actor {
        uid: Some(1000),
        name: "alice".to_owned(),
    }
}

fn manual(org: &str, created: i64, expires: i64) -> NewHold {
    NewHold {
        org: org.to_owned(),
        source: HoldSource::Manual,
        owner: alice(),
        reason: Some("INC-4711 runaway flow".to_owned()),
        scope: HoldScope::default(),
        created_at: at(created),
        starts_at: None,
        expires_at: at(expires),
    }
}

fn window(org: &str, name: &str, start: i64, end: i64) -> NewHold {
    NewHold {
        org: org.to_owned(),
        source: HoldSource::Window {
            name: name.to_owned(),
            occurrence_start: at(start),
        },
        owner: Actor::daemon(),
        reason: None,
        scope: HoldScope::default(),
        created_at: at(start),
        starts_at: None,
        expires_at: at(end),
    }
}

fn key(org: &str, kind: Kind, sf_id: &str) -> ComponentKey {
    ComponentKey {
        org: org.to_owned(),
        kind,
        sf_id: sf_id.to_owned(),
    }
}

fn flow_entry(org: &str, sf_id: &str, version: u32) -> NewJournalEntry {
    NewJournalEntry {
        key: key(org, Kind::Flow, sf_id),
        api_name: format!("Flow_{sf_id}"),
        object: Some("Account".to_owned()),
        prior_state: json!({ "activeVersionNumber": version }),
        set_state: json!({ "activeVersionNumber": 0 }),
    }
}

fn step_to(key: &ComponentKey, step: Step) -> StepUpdate {
    StepUpdate {
        key: key.clone(),
        step,
        last_error: None,
        conflict: None,
        count_attempt: false,
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

async fn open(dir: &Path) -> Store {
    Store::open(dir).await.expect("open the store")
}

#[tokio::test]
async fn open_creates_a_private_directory_and_file_and_reopening_is_idempotent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state_dir = tmp.path().join("var").join("pauseplay");

    let store = open(&state_dir).await;
    assert_eq!(store.path(), state_dir.join("state.db"));
    assert_eq!(mode(&state_dir), 0o700, "state directory");
    assert_eq!(mode(tmp.path().join("var").as_path()), 0o700, "parents too");
    assert_eq!(mode(store.path()), 0o600, "database file");

    let hold = store
        .insert_hold(&manual("prod", 0, 3600))
        .await
        .expect("insert");
    // SQLite gives the WAL the database file's mode.
    let wal = PathBuf::from(format!("{}-wal", store.path().display()));
    assert_eq!(mode(&wal), 0o600, "WAL file");

    // A second handle while the first is open, then a reopen after closing: migrations are
    // already applied and the data is there.
    let second = open(&state_dir).await;
    assert_eq!(
        second.hold(hold.id).await.expect("read"),
        Some(hold.clone())
    );
    second.close().await;
    store.close().await;
    let reopened = open(&state_dir).await;
    assert_eq!(reopened.hold(hold.id).await.expect("read"), Some(hold));
    assert_eq!(mode(reopened.path()), 0o600);
}

#[tokio::test]
async fn holds_are_listed_released_and_expired_with_an_exact_boundary() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;

    let first = store
        .insert_hold(&manual("prod", 0, 100))
        .await
        .expect("insert");
    let second = store
        .insert_hold(&window("prod", "nightly", 10, 200))
        .await
        .expect("insert");
    let third = store
        .insert_hold(&manual("uat", 20, 300))
        .await
        .expect("insert");
    assert!(first.id < second.id && second.id < third.id);
    assert_eq!(first.released_at, None);
    assert_eq!(first.released_by, None);

    let ids = |holds: Vec<pauseplay::store::Hold>| holds.iter().map(|h| h.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.active_holds(at(50)).await.expect("active")),
        vec![first.id, second.id, third.id]
    );
    // A hold expiring exactly at `now` is no longer in force, one millisecond before it is.
    let just_before = at(100) - SignedDuration::from_millis(1);
    assert_eq!(
        ids(store.active_holds(just_before).await.expect("active")),
        vec![first.id, second.id, third.id]
    );
    assert_eq!(
        ids(store.active_holds(at(100)).await.expect("active")),
        vec![second.id, third.id]
    );
    assert!(
        store
            .expire_holds(just_before)
            .await
            .expect("expire")
            .is_empty()
    );
    let expired = store.expire_holds(at(100)).await.expect("expire");
    assert_eq!(ids(expired.clone()), vec![first.id]);
    assert_eq!(
        expired[0].released_at,
        Some(at(100)),
        "released at its expiry"
    );
    assert_eq!(expired[0].released_by.as_deref(), Some("expired"));
    assert!(
        store
            .expire_holds(at(100))
            .await
            .expect("expire")
            .is_empty(),
        "expiring is idempotent"
    );

    // Release one hold: it leaves the active set, and a second release finds nothing.
    let released = store
        .release_hold(second.id, &alice(), at(60))
        .await
        .expect("release")
        .expect("was active");
    assert_eq!(released.released_at, Some(at(60)));
    assert_eq!(released.released_by.as_deref(), Some("alice"));
    assert_eq!(
        store
            .release_hold(second.id, &alice(), at(61))
            .await
            .expect("release"),
        None
    );
    assert_eq!(
        store
            .release_hold(HoldId(9999), &alice(), at(61))
            .await
            .expect("release"),
        None
    );
    assert_eq!(
        ids(store.active_holds(at(100)).await.expect("active")),
        vec![third.id]
    );
    // An expired hold cannot be released again either.
    assert_eq!(
        store
            .release_hold(first.id, &alice(), at(120))
            .await
            .expect("release"),
        None
    );
    assert_eq!(
        store
            .hold(first.id)
            .await
            .expect("read")
            .expect("exists")
            .released_by
            .as_deref(),
        Some("expired")
    );
}

#[tokio::test]
async fn resume_releases_only_the_orgs_manual_holds_in_force() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;

    let manual_a = store
        .insert_hold(&manual("prod", 0, 1000))
        .await
        .expect("insert");
    let manual_b = store
        .insert_hold(&manual("prod", 5, 2000))
        .await
        .expect("insert");
    let ran_out = store
        .insert_hold(&manual("prod", 0, 50))
        .await
        .expect("insert");
    let scheduled = store
        .insert_hold(&window("prod", "nightly", 0, 1000))
        .await
        .expect("insert");
    let ad_hoc = store
        .insert_hold(&NewHold {
            source: HoldSource::AdHoc {
                name: "migration".to_owned(),
            },
            ..manual("prod", 0, 1000)
        })
        .await
        .expect("insert");
    let other_org = store
        .insert_hold(&manual("uat", 0, 1000))
        .await
        .expect("insert");

    let bob = Actor {
        uid: Some(1001),
        name: "bob".to_owned(),
    };
    let released = store
        .release_manual_holds("prod", &bob, at(100))
        .await
        .expect("release");
    assert_eq!(
        released.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![manual_a.id, manual_b.id]
    );
    assert!(
        released
            .iter()
            .all(|h| h.released_by.as_deref() == Some("bob") && h.released_at == Some(at(100)))
    );

    let active: Vec<HoldId> = store
        .active_holds(at(100))
        .await
        .expect("active")
        .iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(active, vec![scheduled.id, ad_hoc.id, other_org.id]);
    // The manual hold that ran out is left for expire_holds to mark as expired.
    assert_eq!(
        store
            .hold(ran_out.id)
            .await
            .expect("read")
            .expect("exists")
            .released_at,
        None
    );
    assert_eq!(
        store.expire_holds(at(100)).await.expect("expire")[0].id,
        ran_out.id
    );
    assert!(
        store
            .release_manual_holds("prod", &bob, at(101))
            .await
            .expect("release")
            .is_empty()
    );
}

#[tokio::test]
async fn recent_holds_are_newest_first_released_or_not() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            store
                .insert_hold(&manual("prod", i, 1000))
                .await
                .expect("insert")
                .id,
        );
    }
    store
        .release_hold(ids[4], &alice(), at(10))
        .await
        .expect("release");
    let recent: Vec<HoldId> = store
        .recent_holds(3)
        .await
        .expect("recent")
        .iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(recent, vec![ids[4], ids[3], ids[2]]);
    assert_eq!(store.recent_holds(100).await.expect("recent").len(), 5);
    assert!(store.recent_holds(0).await.expect("recent").is_empty());
}

#[tokio::test]
async fn hold_sources_scopes_and_owners_round_trip() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    // Sub-millisecond parts are dropped: what comes back is what is stored.
    let start = at(7200) + SignedDuration::from_nanos(1_234_567);
    let narrowed = HoldScope {
        kinds: Some(BTreeSet::from([Kind::Flow, Kind::ValidationRule])),
        objects: Some(BTreeSet::from(["Account".to_owned(), "Contact".to_owned()])),
    };
    let cases = [
        NewHold {
            source: HoldSource::Window {
                name: "nightly-load".to_owned(),
                occurrence_start: start,
            },
            owner: Actor::daemon(),
            reason: None,
            scope: narrowed.clone(),
            ..manual("prod", 0, 9000)
        },
        NewHold {
            source: HoldSource::AdHoc {
                name: "q4-migration".to_owned(),
            },
            scope: HoldScope {
                kinds: None,
                objects: Some(BTreeSet::from(["Opportunity".to_owned()])),
            },
            ..manual("uat", 0, 9000)
        },
        NewHold {
            scope: HoldScope {
                kinds: Some(BTreeSet::from([Kind::Trigger])),
                objects: None,
            },
            ..manual("prod", 1, 9000)
        },
        manual("prod", 2, 9000),
    ];
    for new in &cases {
        let stored = store.insert_hold(new).await.expect("insert");
        let read = store.hold(stored.id).await.expect("read").expect("exists");
        assert_eq!(read, stored);
        assert_eq!(read.org, new.org);
        assert_eq!(read.owner, new.owner);
        assert_eq!(read.reason, new.reason);
        assert_eq!(read.scope, new.scope);
        assert_eq!(read.created_at, new.created_at);
        assert_eq!(read.expires_at, new.expires_at);
        match (&read.source, &new.source) {
            (
                HoldSource::Window {
                    name,
                    occurrence_start,
                },
                HoldSource::Window { name: wanted, .. },
            ) => {
                assert_eq!(name, wanted);
                assert_eq!(occurrence_start.as_millisecond(), start.as_millisecond());
                assert_eq!(occurrence_start.subsec_nanosecond() % 1_000_000, 0);
            }
            (read, wanted) => assert_eq!(read, wanted),
        }
    }
    assert_eq!(store.hold(HoldId(12345)).await.expect("read"), None);
}

#[tokio::test]
async fn an_occurrence_of_a_window_is_held_at_most_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    let held = store
        .insert_hold(&window("prod", "nightly", 0, 100))
        .await
        .expect("insert");
    // The same window and occurrence in another org, or the next occurrence, are fine.
    store
        .insert_hold(&window("uat", "nightly", 0, 100))
        .await
        .expect("other org");
    store
        .insert_hold(&window("prod", "nightly", 86_400, 86_500))
        .await
        .expect("next occurrence");
    // Ended early: the occurrence must not be held again on the next tick.
    store
        .release_hold(held.id, &alice(), at(10))
        .await
        .expect("release");
    let err = store
        .insert_hold(&window("prod", "nightly", 0, 100))
        .await
        .expect_err("duplicate occurrence");
    assert!(
        matches!(&err, StoreError::DuplicateWindowHold { org, window, .. } if org == "prod" && window == "nightly"),
        "{err:?}"
    );
    assert!(err.to_string().contains("state.db"), "{err}");
}

/// An ad hoc window as `pause at` stores it: created at `created`, in force from `start`.
fn ad_hoc(org: &str, created: i64, start: i64, expires: i64) -> NewHold {
    NewHold {
        source: HoldSource::AdHoc {
            name: "at-2027-01-15T12:00Z".to_owned(),
        },
        starts_at: Some(at(start)),
        ..manual(org, created, expires)
    }
}

#[tokio::test]
async fn a_hold_with_a_start_round_trips_and_is_upcoming_until_it_starts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    let now_in_force = store
        .insert_hold(&manual("prod", 0, 1000))
        .await
        .expect("insert");
    assert_eq!(now_in_force.starts_at, None);
    // Sub-millisecond parts are dropped, as for every stored time.
    let later = store
        .insert_hold(&NewHold {
            starts_at: Some(at(100) + SignedDuration::from_nanos(1_500_000)),
            ..ad_hoc("prod", 0, 100, 400)
        })
        .await
        .expect("insert");
    assert_eq!(
        later.starts_at,
        Some(at(100) + SignedDuration::from_millis(1))
    );
    assert_eq!(
        store.hold(later.id).await.expect("read"),
        Some(later.clone())
    );
    let sooner = store
        .insert_hold(&ad_hoc("uat", 0, 50, 300))
        .await
        .expect("insert");

    let ids = |holds: Vec<pauseplay::store::Hold>| holds.iter().map(|h| h.id).collect::<Vec<_>>();
    // Before its start a hold is upcoming, not in force; upcoming holds come soonest first.
    assert_eq!(
        ids(store.active_holds(at(10)).await.expect("active")),
        vec![now_in_force.id]
    );
    assert_eq!(
        ids(store.upcoming_holds(at(10)).await.expect("upcoming")),
        vec![sooner.id, later.id]
    );
    assert!(!later.in_force_at(at(10)) && later.is_upcoming_at(at(10)));
    // In force from its start on (inclusive), like an expiry is exclusive.
    let just_before = at(50) - SignedDuration::from_millis(1);
    assert_eq!(
        ids(store.active_holds(just_before).await.expect("active")),
        vec![now_in_force.id]
    );
    assert_eq!(
        ids(store.active_holds(at(50)).await.expect("active")),
        vec![now_in_force.id, sooner.id]
    );
    assert_eq!(
        ids(store.upcoming_holds(at(50)).await.expect("upcoming")),
        vec![later.id]
    );
    assert!(sooner.in_force_at(at(50)) && !sooner.is_upcoming_at(at(50)));
    assert_eq!(
        ids(store.active_holds(at(200)).await.expect("active")),
        vec![now_in_force.id, later.id, sooner.id],
        "in force: by id"
    );
    assert!(
        store
            .upcoming_holds(at(200))
            .await
            .expect("upcoming")
            .is_empty()
    );
    // `resume` without `--hold` leaves ad hoc holds alone, started or not.
    assert_eq!(
        ids(store
            .release_manual_holds("prod", &alice(), at(20))
            .await
            .expect("release")),
        vec![now_in_force.id]
    );
    assert_eq!(
        store
            .hold(later.id)
            .await
            .expect("read")
            .expect("exists")
            .released_at,
        None
    );
}

#[tokio::test]
async fn a_hold_that_has_not_started_is_not_expired_early_and_expires_at_its_end() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    let hold = store
        .insert_hold(&ad_hoc("prod", 0, 100, 400))
        .await
        .expect("insert");
    for second in [0, 99, 100, 399] {
        assert!(
            store
                .expire_holds(at(second))
                .await
                .expect("expire")
                .is_empty(),
            "not expired at {second}"
        );
    }
    assert_eq!(
        store.active_holds(at(399)).await.expect("active")[0].id,
        hold.id
    );
    let expired = store.expire_holds(at(400)).await.expect("expire");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].id, hold.id);
    assert_eq!(expired[0].released_by.as_deref(), Some("expired"));
    assert_eq!(expired[0].released_at, Some(at(400)));
    assert!(
        store
            .active_holds(at(400))
            .await
            .expect("active")
            .is_empty()
    );
    assert!(
        store
            .upcoming_holds(at(0))
            .await
            .expect("upcoming")
            .is_empty()
    );

    // A hold that would start at or after its expiry never comes into force: refused.
    for start in [400, 500] {
        let error = store
            .insert_hold(&ad_hoc("prod", 0, start, 400))
            .await
            .expect_err("starts too late");
        assert!(error.to_string().contains("state.db"), "{error}");
    }
}

#[tokio::test]
async fn releasing_a_hold_before_it_starts_cancels_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    let hold = store
        .insert_hold(&ad_hoc("prod", 0, 100, 400))
        .await
        .expect("insert");
    let released = store
        .release_hold(hold.id, &alice(), at(10))
        .await
        .expect("release")
        .expect("it was upcoming");
    assert_eq!(released.released_at, Some(at(10)));
    assert_eq!(released.released_by.as_deref(), Some("alice"));
    assert_eq!(released.starts_at, Some(at(100)), "the start is kept");
    for second in [10, 100, 200] {
        assert!(
            store
                .active_holds(at(second))
                .await
                .expect("active")
                .is_empty(),
            "never in force ({second})"
        );
        assert!(
            store
                .upcoming_holds(at(second))
                .await
                .expect("upcoming")
                .is_empty(),
            "no longer upcoming ({second})"
        );
    }
    assert!(
        store
            .expire_holds(at(400))
            .await
            .expect("expire")
            .is_empty()
    );
    assert_eq!(
        store
            .release_hold(hold.id, &alice(), at(20))
            .await
            .expect("release"),
        None
    );
}

#[tokio::test]
async fn journal_round_trips_and_counts_attempts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    let rule = NewJournalEntry {
        key: key("prod", Kind::ValidationRule, "03d000000000001"),
        api_name: "Account.Require_Phone".to_owned(),
        object: Some("Account".to_owned()),
        prior_state: json!({ "active": true, "Metadata": { "errorMessage": "Phone, please", "nested": [1, 2, { "x": null }] } }),
        set_state: json!({ "active": false }),
    };
    let flow = flow_entry("prod", "300000000000001", 7);
    let other_org = flow_entry("uat", "300000000000001", 3);
    store
        .record_pausing(&[rule.clone(), flow.clone(), other_org.clone()], at(0))
        .await
        .expect("record");

    let journal = store.journal("prod").await.expect("journal");
    assert_eq!(journal.len(), 2);
    // Ordered by kind, then API name.
    assert_eq!(journal[0].key, flow.key);
    assert_eq!(journal[1].key, rule.key);
    let read = &journal[1];
    assert_eq!(read.api_name, rule.api_name);
    assert_eq!(read.object, rule.object);
    assert_eq!(read.prior_state, rule.prior_state);
    assert_eq!(read.set_state, rule.set_state);
    assert_eq!(read.step, Step::Pausing);
    assert_eq!(read.attempts, 0);
    assert_eq!(read.last_error, None);
    assert_eq!(read.conflict, None);
    assert_eq!(read.updated_at, at(0));

    // A failed attempt, a retry that works, then a restore that finds a conflict.
    store
        .update_steps(
            &[StepUpdate {
                last_error: Some("503 SERVER_UNAVAILABLE".to_owned()),
                count_attempt: true,
                ..step_to(&rule.key, Step::Pausing)
            }],
            at(1),
        )
        .await
        .expect("update");
    let entry = journal_row(&store, &rule.key).await;
    assert_eq!(entry.attempts, 1);
    assert_eq!(entry.last_error.as_deref(), Some("503 SERVER_UNAVAILABLE"));
    assert_eq!(entry.updated_at, at(1));

    store
        .update_steps(
            &[
                StepUpdate {
                    count_attempt: true,
                    ..step_to(&rule.key, Step::Paused)
                },
                step_to(&flow.key, Step::Paused),
            ],
            at(2),
        )
        .await
        .expect("update");
    let entry = journal_row(&store, &rule.key).await;
    assert_eq!((entry.step, entry.attempts), (Step::Paused, 2));
    assert_eq!(entry.last_error, None, "a step update replaces the error");
    assert_eq!(entry.prior_state, rule.prior_state, "prior state untouched");
    let entry = journal_row(&store, &flow.key).await;
    assert_eq!((entry.step, entry.attempts), (Step::Paused, 0));

    store
        .update_steps(
            &[StepUpdate {
                conflict: Some("activeVersionNumber is 8, not 0".to_owned()),
                ..step_to(&flow.key, Step::Conflict)
            }],
            at(3),
        )
        .await
        .expect("update");
    let entry = journal_row(&store, &flow.key).await;
    assert_eq!(entry.step, Step::Conflict);
    assert_eq!(
        entry.conflict.as_deref(),
        Some("activeVersionNumber is 8, not 0")
    );

    assert_eq!(
        store
            .journal_entry(&key("prod", Kind::Trigger, "01q000000000001"))
            .await
            .expect("read"),
        None
    );
    assert!(store.journal("nowhere").await.expect("journal").is_empty());
}

#[tokio::test]
async fn a_prior_state_not_yet_restored_is_never_overwritten() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;

    for (i, step) in Step::ALL.into_iter().enumerate() {
        let sf_id = format!("30000000000000{i}");
        let first = flow_entry("prod", &sf_id, 5);
        store
            .record_pausing(std::slice::from_ref(&first), at(0))
            .await
            .expect("record");
        store
            .update_steps(
                &[StepUpdate {
                    last_error: Some("boom".to_owned()),
                    conflict: Some("edited".to_owned()),
                    count_attempt: true,
                    ..step_to(&first.key, step)
                }],
                at(1),
            )
            .await
            .expect("update");

        // A second, overlapping pause sees the component already paused (version 0).
        let second = flow_entry("prod", &sf_id, 0);
        let result = store
            .record_pausing(std::slice::from_ref(&second), at(2))
            .await;
        let entry = journal_row(&store, &first.key).await;
        if step.holds_prior_state() {
            let err = result.expect_err("must refuse");
            assert!(
                matches!(&err, StoreError::JournalConflict { key, step: found, .. } if *key == first.key && *found == step),
                "{err:?}"
            );
            let message = err.to_string();
            assert!(
                message.contains(&sf_id) && message.contains("state.db"),
                "{message}"
            );
            assert_eq!(entry.prior_state, first.prior_state, "{step}: prior kept");
            assert_eq!((entry.step, entry.attempts), (step, 1));
        } else {
            result.unwrap_or_else(|e| panic!("{step} can be started over: {e}"));
            assert_eq!(entry.prior_state, second.prior_state, "{step}: new cycle");
            assert_eq!(entry.step, Step::Pausing);
            assert_eq!(entry.attempts, 0);
            assert_eq!((entry.last_error, entry.conflict), (None, None));
            assert_eq!(entry.updated_at, at(2));
        }
    }
}

#[tokio::test]
async fn journal_batches_are_all_or_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    let paused = flow_entry("prod", "300000000000001", 4);
    store
        .record_pausing(std::slice::from_ref(&paused), at(0))
        .await
        .expect("record");
    store
        .update_steps(&[step_to(&paused.key, Step::Paused)], at(1))
        .await
        .expect("update");

    // One refused row in a batch: none of the batch is written.
    let fresh = flow_entry("prod", "300000000000002", 2);
    let err = store
        .record_pausing(
            &[fresh.clone(), flow_entry("prod", "300000000000001", 0)],
            at(2),
        )
        .await
        .expect_err("refused");
    assert!(matches!(err, StoreError::JournalConflict { .. }), "{err:?}");
    assert_eq!(store.journal_entry(&fresh.key).await.expect("read"), None);

    // The same component twice in one batch is refused too.
    let err = store
        .record_pausing(&[fresh.clone(), fresh.clone()], at(2))
        .await
        .expect_err("duplicate in batch");
    assert!(matches!(err, StoreError::JournalConflict { .. }), "{err:?}");
    assert_eq!(store.journal_entry(&fresh.key).await.expect("read"), None);

    // An unknown key in a step batch: none of the batch is written.
    let unknown = key("prod", Kind::Flow, "300000000000999");
    let err = store
        .update_steps(
            &[
                step_to(&paused.key, Step::Restoring),
                step_to(&unknown, Step::Restored),
            ],
            at(3),
        )
        .await
        .expect_err("unknown key");
    assert!(
        matches!(&err, StoreError::UnknownJournalEntry { key, .. } if *key == unknown),
        "{err:?}"
    );
    let entry = journal_row(&store, &paused.key).await;
    assert_eq!(entry.step, Step::Paused);
    assert_eq!(entry.updated_at, at(1));

    // Empty batches are fine and write nothing. The store still works after the rollbacks.
    store.record_pausing(&[], at(4)).await.expect("empty");
    store.update_steps(&[], at(4)).await.expect("empty");
    store
        .record_pausing(std::slice::from_ref(&fresh), at(5))
        .await
        .expect("record");
    assert!(
        store
            .journal_entry(&fresh.key)
            .await
            .expect("read")
            .is_some()
    );
}

#[tokio::test]
async fn history_appends_and_reads_newest_first_filtered_and_limited() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    let hold = store
        .insert_hold(&manual("prod", 0, 100))
        .await
        .expect("insert");

    let entry = |org: Option<&str>, action: &str, second: i64| NewHistory {
        at: at(second),
        org: org.map(str::to_owned),
        actor: alice(),
        action: action.to_owned(),
        hold_id: None,
        detail: json!({ "n": second }),
    };
    let started = store
        .append_history(&NewHistory {
            actor: Actor::daemon(),
            ..entry(None, "daemon_started", 0)
        })
        .await
        .expect("append");
    let paused = store
        .append_history(&NewHistory {
            hold_id: Some(hold.id),
            detail: json!({ "paused": 12, "skipped": [{ "kind": "flow", "why": "managed" }] }),
            ..entry(Some("prod"), "pause", 1)
        })
        .await
        .expect("append");
    // The clock went back: the append order still decides what is newest.
    let uat = store
        .append_history(&entry(Some("uat"), "pause", -50))
        .await
        .expect("append");
    let resumed = store
        .append_history(&entry(Some("prod"), "resume", 3))
        .await
        .expect("append");
    assert!(started < paused && paused < uat && uat < resumed);

    let all = store.history(None, 100).await.expect("history");
    assert_eq!(
        all.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![resumed, uat, paused, started]
    );
    assert_eq!(all[3].actor, Actor::daemon());
    assert_eq!(all[3].org, None);
    let read = &all[2];
    assert_eq!(read.at, at(1));
    assert_eq!(read.org.as_deref(), Some("prod"));
    assert_eq!(read.actor, alice());
    assert_eq!(read.action, "pause");
    assert_eq!(read.hold_id, Some(hold.id));
    assert_eq!(
        read.detail,
        json!({ "paused": 12, "skipped": [{ "kind": "flow", "why": "managed" }] })
    );

    let prod = store.history(Some("prod"), 100).await.expect("history");
    assert_eq!(
        prod.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![resumed, paused]
    );
    let limited = store.history(None, 2).await.expect("history");
    assert_eq!(
        limited.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![resumed, uat]
    );
    assert!(
        store
            .history(Some("nowhere"), 10)
            .await
            .expect("history")
            .is_empty()
    );

    // An entry naming a hold that does not exist is refused, and nothing is appended.
    let err = store
        .append_history(&NewHistory {
            hold_id: Some(HoldId(777)),
            ..entry(Some("prod"), "pause", 4)
        })
        .await
        .expect_err("unknown hold");
    assert!(err.to_string().contains("777"), "{err}");
    assert_eq!(store.history(None, 100).await.expect("history").len(), 4);
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_reported_and_left_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("state.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 13) as u8).collect();
    fs::write(&path, &garbage).expect("write garbage");

    let err = Store::open(tmp.path()).await.expect_err("not a database");
    assert!(matches!(&err, StoreError::NotADatabase { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("not a SQLite database"), "{message}");
    assert!(message.contains("backup"), "says what to do: {message}");
    assert_eq!(fs::read(&path).expect("read"), garbage, "never overwritten");
}

/// Makes a path immutable with `chattr +i` for the guard's lifetime. As root, permission bits
/// do not stop writes, but the immutable attribute does. Returns `None` where `chattr` is
/// missing or the file system does not support the attribute.
struct Immutable(PathBuf);

impl Immutable {
    fn set(path: &Path) -> Option<Immutable> {
        let status = Command::new("chattr").arg("+i").arg(path).status().ok()?;
        status.success().then(|| Immutable(path.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Makes `path` unwritable: mode bits for an ordinary user, the immutable attribute for root.
fn make_unwritable(path: &Path, mode: u32) -> Option<Option<Immutable>> {
    if is_root() {
        Immutable::set(path).map(Some)
    } else {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
        Some(None)
    }
}

#[tokio::test]
async fn an_unwritable_database_file_is_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    store
        .insert_hold(&manual("prod", 0, 100))
        .await
        .expect("insert");
    store.close().await;
    let path = tmp.path().join("state.db");

    let Some(_guard) = make_unwritable(&path, 0o400) else {
        eprintln!("skipped: running as root without a working `chattr +i`");
        return;
    };
    let err = Store::open(tmp.path()).await.expect_err("read-only file");
    assert!(matches!(&err, StoreError::ReadOnly { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("writable"), "says what to do: {message}");
}

#[tokio::test]
async fn an_unwritable_state_directory_is_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state_dir = tmp.path().join("state");
    fs::create_dir(&state_dir).expect("mkdir");

    let Some(_guard) = make_unwritable(&state_dir, 0o500) else {
        eprintln!("skipped: running as root without a working `chattr +i`");
        return;
    };
    let err = Store::open(&state_dir)
        .await
        .expect_err("read-only directory");
    assert!(matches!(&err, StoreError::ReadOnly { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&state_dir.join("state.db").display().to_string()),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_file_write_concurrently() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = open(tmp.path()).await;
    let b = open(tmp.path()).await;

    let mut tasks = tokio::task::JoinSet::new();
    for (name, store) in [("a", a.clone()), ("b", b.clone())] {
        for i in 0..200 {
            let store = store.clone();
            tasks.spawn(async move {
                store
                    .append_history(&NewHistory {
                        at: at(i),
                        org: Some("prod".to_owned()),
                        actor: Actor::daemon(),
                        action: format!("write_{name}"),
                        hold_id: None,
                        detail: json!({ "i": i }),
                    })
                    .await
            });
        }
        // Journal batches interleave with the appends.
        let store = store.clone();
        tasks.spawn(async move {
            let entries: Vec<_> = (0..50)
                .map(|i| flow_entry(name, &format!("3000000000{i:05}"), 1))
                .collect();
            store.record_pausing(&entries, at(0)).await.map(|()| 0)
        });
    }
    let mut ids = BTreeSet::new();
    while let Some(result) = tasks.join_next().await {
        let id = result.expect("task").expect("write succeeds");
        if id != 0 {
            assert!(ids.insert(id), "ids are unique");
        }
    }
    assert_eq!(ids.len(), 400);
    assert_eq!(a.history(None, 1000).await.expect("history").len(), 400);
    assert_eq!(b.journal("a").await.expect("journal").len(), 50);
    assert_eq!(a.journal("b").await.expect("journal").len(), 50);
}

#[test]
fn steps_have_stable_names() {
    for step in Step::ALL {
        assert_eq!(step.as_str().parse::<Step>(), Ok(step));
    }
    assert!("paused ".parse::<Step>().is_err());
    assert_eq!(HoldId(12).to_string(), "12");
}

#[tokio::test]
async fn an_existing_database_in_an_unwritable_directory_is_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state_dir = tmp.path().join("state");
    let store = open(&state_dir).await;
    store
        .insert_hold(&manual("prod", 0, 100))
        .await
        .expect("insert");
    store.close().await;

    // The file is writable, but SQLite cannot create its -wal and -shm files beside it.
    let Some(_guard) = make_unwritable(&state_dir, 0o500) else {
        eprintln!("skipped: running as root without a working `chattr +i`");
        return;
    };
    let err = Store::open(&state_dir)
        .await
        .expect_err("read-only directory");
    // SQLite says "unable to open database file" (as root with the immutable attribute) or
    // may report the directory as read-only (mode bits as an ordinary user).
    assert!(
        matches!(
            &err,
            StoreError::CantOpen { .. } | StoreError::ReadOnly { .. }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("writable"), "says what to do: {message}");
    assert!(
        message.contains(&state_dir.join("state.db").display().to_string()),
        "{message}"
    );
}

fn trigger_entry(org: &str, sf_id: &str) -> NewJournalEntry {
    NewJournalEntry {
        key: key(org, Kind::Trigger, sf_id),
        api_name: format!("Trigger_{sf_id}"),
        object: Some("Account".to_owned()),
        prior_state: json!({ "type": "trigger", "active": true }),
        set_state: json!({ "type": "trigger", "active": false }),
    }
}

#[tokio::test]
async fn a_deploy_id_is_recorded_for_a_batch_kept_within_a_step_and_cleared_by_a_new_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    let first = trigger_entry("prod", "01q000000000001");
    let second = trigger_entry("prod", "01q000000000002");
    let other = trigger_entry("prod", "01q000000000003");
    store
        .record_pausing(&[first.clone(), second.clone(), other.clone()], at(0))
        .await
        .expect("record");
    let deploy_of = |journal: &[pauseplay::store::JournalEntry], k: &ComponentKey| {
        journal
            .iter()
            .find(|entry| entry.key == *k)
            .map(|entry| entry.deploy_id.clone())
    };
    let journal = store.journal("prod").await.expect("journal");
    assert!(journal.iter().all(|entry| entry.deploy_id.is_none()));

    store
        .set_deploy_id(
            &[first.key.clone(), second.key.clone()],
            "0Af000000000001",
            at(1),
        )
        .await
        .expect("set");
    let journal = store.journal("prod").await.expect("journal");
    assert_eq!(
        deploy_of(&journal, &first.key),
        Some(Some("0Af000000000001".to_owned()))
    );
    assert_eq!(
        deploy_of(&journal, &second.key),
        Some(Some("0Af000000000001".to_owned()))
    );
    assert_eq!(
        deploy_of(&journal, &other.key),
        Some(None),
        "not in the batch"
    );
    let entry = journal_row(&store, &first.key).await;
    assert_eq!((entry.step, entry.updated_at), (Step::Pausing, at(1)));
    assert_eq!(
        entry.prior_state, first.prior_state,
        "prior state untouched"
    );

    // Step updates leave it as it is, whatever the step.
    store
        .update_steps(
            &[
                StepUpdate {
                    count_attempt: true,
                    ..step_to(&first.key, Step::Paused)
                },
                StepUpdate {
                    last_error: Some("tests failed".to_owned()),
                    ..step_to(&second.key, Step::Failed)
                },
            ],
            at(2),
        )
        .await
        .expect("update");
    let entry = journal_row(&store, &first.key).await;
    assert_eq!(entry.deploy_id.as_deref(), Some("0Af000000000001"));
    assert_eq!(entry.step, Step::Paused);

    // The restore's write-ahead clears it: the pause's deploy does not carry the restore,
    // and a crash before the restore's deploy id is recorded must not poll it.
    store
        .update_steps(&[step_to(&first.key, Step::Restoring)], at(3))
        .await
        .expect("update");
    let entry = journal_row(&store, &first.key).await;
    assert_eq!((entry.step, entry.deploy_id), (Step::Restoring, None));
    store
        .set_deploy_id(std::slice::from_ref(&first.key), "0Af000000000002", at(4))
        .await
        .expect("set");
    let entry = journal_row(&store, &first.key).await;
    assert_eq!(entry.deploy_id.as_deref(), Some("0Af000000000002"));

    // A restore retried in the same step keeps the deploy it is waiting on.
    store
        .update_steps(
            &[StepUpdate {
                last_error: Some("polling failed".to_owned()),
                count_attempt: true,
                ..step_to(&first.key, Step::Restoring)
            }],
            at(5),
        )
        .await
        .expect("update");
    let entry = journal_row(&store, &first.key).await;
    assert_eq!(entry.deploy_id.as_deref(), Some("0Af000000000002"));

    // A new pause of a finished row starts without a deploy.
    store
        .record_pausing(std::slice::from_ref(&second), at(5))
        .await
        .expect("a failed row starts over");
    let entry = journal_row(&store, &second.key).await;
    assert_eq!((entry.step, entry.deploy_id), (Step::Pausing, None));

    // An unknown key fails the whole batch; nothing of it is written.
    let unknown = key("prod", Kind::Trigger, "01q000000000999");
    let err = store
        .set_deploy_id(
            &[other.key.clone(), unknown.clone()],
            "0Af000000000003",
            at(6),
        )
        .await
        .expect_err("unknown key");
    assert!(
        matches!(&err, StoreError::UnknownJournalEntry { key, .. } if *key == unknown),
        "{err:?}"
    );
    let entry = journal_row(&store, &other.key).await;
    assert_eq!((entry.deploy_id, entry.updated_at), (None, at(0)));

    // An empty batch writes nothing; an empty id is refused by the schema.
    store
        .set_deploy_id(&[], "0Af000000000004", at(7))
        .await
        .expect("empty");
    store
        .set_deploy_id(std::slice::from_ref(&other.key), "", at(7))
        .await
        .expect_err("an empty deploy id is not an id");
}

#[tokio::test]
async fn a_missed_occurrence_is_recorded_released_and_never_held_afterwards() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    let missed = store
        .insert_missed_occurrence(&window("prod", "nightly", 0, 100), at(95))
        .await
        .expect("record");
    assert_eq!(
        missed.released_by.as_deref(),
        Some(pauseplay::store::MISSED)
    );
    assert_eq!(missed.released_at, Some(at(95)));
    assert!(
        store.active_holds(at(96)).await.expect("active").is_empty(),
        "a missed occurrence holds nothing"
    );
    let err = store
        .insert_hold(&window("prod", "nightly", 0, 100))
        .await
        .expect_err("the occurrence has its row");
    assert!(
        matches!(err, StoreError::DuplicateWindowHold { .. }),
        "{err:?}"
    );
    assert!(
        store
            .has_window_hold("prod", "nightly", at(0))
            .await
            .expect("read")
    );
    assert!(
        !store
            .has_window_hold("uat", "nightly", at(0))
            .await
            .expect("read")
    );
    assert!(
        !store
            .has_window_hold("prod", "nightly", at(1))
            .await
            .expect("read")
    );
    // Listed since a moment, by id; a held occurrence is not a missed one.
    store
        .insert_hold(&window("prod", "nightly", 86_400, 86_500))
        .await
        .expect("next occurrence held");
    let later = store
        .insert_missed_occurrence(&window("uat", "nightly", 0, 100), at(97))
        .await
        .expect("record");
    let listed: Vec<i64> = store
        .missed_occurrences(at(90))
        .await
        .expect("list")
        .iter()
        .map(|hold| hold.id.0)
        .collect();
    assert_eq!(listed, [missed.id.0, later.id.0]);
    assert!(
        store
            .missed_occurrences(at(98))
            .await
            .expect("list")
            .is_empty()
    );
}

/// The journal row of `key`, which must exist.
async fn journal_row(store: &Store, key: &ComponentKey) -> pauseplay::store::JournalEntry {
    store
        .journal_entry(key)
        .await
        .expect("read")
        .expect("the row exists")
}
