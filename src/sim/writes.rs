//! The tally of the client's writes, per component: how many changed the component and how
//! many set what it already had (needless). A write is a successful Tooling PATCH (top-level
//! or inside a composite) or a completed deploy that carried the component; admin actions are
//! the admin's own and are not counted. Whether a write changed anything is judged on the
//! component's snapshot entry before and after, so it covers every field a write can touch.
//!
//! The tally lives in [`Org`](super::model::Org), so an `allOrNone` composite that rolls the
//! org back rolls its writes back too.

use std::collections::BTreeMap;

use serde::Serialize;

/// The writes one component received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WriteCount {
    /// Writes after which the component differed from before.
    pub changed: u64,
    /// Writes that left it exactly as it was.
    pub needless: u64,
}

/// Writes per component id (18 characters).
#[derive(Debug, Clone, Default)]
pub struct Writes {
    by_id: BTreeMap<String, WriteCount>,
}

impl Writes {
    pub fn record(&mut self, id: &str, changed: bool) {
        let count = self.by_id.entry(id.to_owned()).or_default();
        if changed {
            count.changed += 1;
        } else {
            count.needless += 1;
        }
    }

    pub fn by_id(&self) -> &BTreeMap<String, WriteCount> {
        &self.by_id
    }
}
