//! The floor of a pause and of a restore: the fewest API calls the org charges and the fewest
//! sequential round trips the work in scope allows, computed from a discovery.
//!
//! Issue 7 defines the floor as one token, the discovery query pages, `ceil(rule metadata
//! reads / 25)`, `ceil(writes / 25)` and one deploy plus its polls. This module owns that
//! arithmetic so that the benchmark compares against it and `plan` can later show it as the
//! estimate of what an operation costs (issue 8's API-limit estimate).
//!
//! What each part stands for:
//! - *query pages*: the SOQL queries discovery runs (the `Organization` record; flows need the
//!   `FlowDefinitionView` list and the `FlowDefinition` versions; one query per rule kind and
//!   for triggers), each `ceil(rows / page size)` pages, at least one. A restore does not
//!   discover: it reads the current state of the flows and triggers it restores (one query
//!   each, paged) for its compare-and-set.
//! - *rule reads*: validation and workflow rules are written back with their full `Metadata`,
//!   which Salesforce returns one record at a time, so each rule to switch costs one composite
//!   item (25 per call).
//! - *writes*: one composite PATCH item per flow, Process Builder and rule (25 per call).
//! - *deploy*: every trigger that switches goes in one Metadata API deploy, then the polls
//!   until it is done (how many depends on the org: the caller says).
//!
//! Tokens are not charged by Salesforce (reference §7; `docs/sim-scenarios.md` `[limits]`);
//! the floor counts one separately. For time, the queries of a discovery run concurrently (the
//! longest one's pages are sequential), the rule reads run concurrently (one round trip), and
//! writes, the deploy and its polls to one org are sequential.

use std::time::Duration;

use crate::automation::{Discovery, Kind};
use crate::salesforce::COMPOSITE_LIMIT;

/// The work a pause or a restore has to do on one org, in the units the floor counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Work {
    /// Pages of each query; the queries run concurrently.
    pub query_pages: Vec<u64>,
    /// Rules whose `Metadata` must be read (one composite item each).
    pub rule_reads: u64,
    /// Flows, Process Builders and rules to write (one composite item each).
    pub writes: u64,
    /// Triggers to switch (all in one deploy).
    pub triggers: u64,
    /// Polls of that deploy until it is done.
    pub deploy_polls: u64,
}

/// The fewest calls and round trips for some [`Work`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Floor {
    /// Access tokens minted (not charged).
    pub tokens: u64,
    /// API calls the org charges (a composite is one).
    pub calls: u64,
    /// Requests that must follow one another, the token included.
    pub round_trips: u64,
    /// Composite items on that sequential path, each paying the org's per-item time.
    pub serial_items: u64,
}

impl Work {
    /// The work of pausing everything `discovery` decided to pause; `page_size` is the org's
    /// query page size (2,000 on Salesforce), `deploy_polls` the polls a deploy takes.
    pub fn pause(discovery: &Discovery, page_size: u64, deploy_polls: u64) -> Work {
        let count = |kinds: &[Kind], pausing: bool| -> u64 {
            discovery
                .components
                .iter()
                .filter(|c| kinds.contains(&c.kind) && (!pausing || c.will_pause()))
                .count() as u64
        };
        let flows = count(&[Kind::Flow, Kind::ProcessBuilder], false);
        let query_pages = vec![
            1, // Organization
            pages(flows, page_size),
            pages(flows, page_size),
            pages(count(&[Kind::ValidationRule], false), page_size),
            pages(count(&[Kind::WorkflowRule], false), page_size),
            pages(count(&[Kind::Trigger], false), page_size),
        ];
        let rules = count(&[Kind::ValidationRule, Kind::WorkflowRule], true);
        let triggers = count(&[Kind::Trigger], true);
        Work {
            query_pages,
            rule_reads: rules,
            writes: count(&[Kind::Flow, Kind::ProcessBuilder], true) + rules,
            triggers,
            deploy_polls: if triggers > 0 { deploy_polls } else { 0 },
        }
    }

    /// The work of restoring what [`Work::pause`] paused: no discovery, but the current state
    /// of the flows and triggers (one paged query each) and of the rules (their `Metadata`).
    pub fn restore(paused: &Work, flows: u64, page_size: u64) -> Work {
        let mut query_pages = Vec::new();
        if flows > 0 {
            query_pages.push(pages(flows, page_size));
        }
        if paused.triggers > 0 {
            query_pages.push(pages(paused.triggers, page_size));
        }
        Work {
            query_pages,
            ..paused.clone()
        }
    }

    /// The floor of this work (see the module docs).
    pub fn floor(&self) -> Floor {
        let batches = |items: u64| items.div_ceil(COMPOSITE_LIMIT as u64);
        let deploy = if self.triggers > 0 {
            1 + self.deploy_polls
        } else {
            0
        };
        let read_calls = batches(self.rule_reads);
        let write_calls = batches(self.writes);
        let longest_query = self.query_pages.iter().copied().max().unwrap_or(0);
        Floor {
            tokens: 1,
            calls: self.query_pages.iter().sum::<u64>() + read_calls + write_calls + deploy,
            round_trips: 1 + longest_query + read_calls.min(1) + write_calls + deploy,
            serial_items: self.rule_reads.min(COMPOSITE_LIMIT as u64) + self.writes,
        }
    }
}

impl Floor {
    /// The wall time of the floor on an org answering each request after `latency` plus
    /// `per_item` for each composite item.
    pub fn wall(&self, latency: Duration, per_item: Duration) -> Duration {
        let times = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        latency
            .saturating_mul(times(self.round_trips))
            .saturating_add(per_item.saturating_mul(times(self.serial_items)))
    }
}

/// Query pages for `rows` rows: at least one (an empty answer is still a call).
fn pages(rows: u64, page_size: u64) -> u64 {
    rows.div_ceil(page_size.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work() -> Work {
        Work {
            query_pages: vec![1, 1, 2],
            rule_reads: 30,
            writes: 80,
            triggers: 3,
            deploy_polls: 4,
        }
    }

    #[test]
    fn calls_are_pages_plus_batches_of_25_plus_one_deploy_and_its_polls() {
        let floor = work().floor();
        // 4 pages, 2 read batches, 4 write batches, 1 deploy + 4 polls.
        assert_eq!(floor.calls, 4 + 2 + 4 + 5);
        assert_eq!(floor.tokens, 1);
        // Token, the longest query (2 pages), reads at once, 4 writes, deploy and polls.
        assert_eq!(floor.round_trips, 1 + 2 + 1 + 4 + 5);
        assert_eq!(floor.serial_items, 25 + 80);
    }

    #[test]
    fn no_triggers_means_no_deploy_and_no_rules_no_reads() {
        let floor = Work {
            query_pages: vec![1],
            writes: 25,
            ..Work::default()
        }
        .floor();
        assert_eq!((floor.calls, floor.round_trips), (2, 3));
    }

    #[test]
    fn wall_time_is_round_trips_times_latency_plus_serial_items() {
        let floor = work().floor();
        let wall = floor.wall(Duration::from_millis(50), Duration::from_millis(1));
        assert_eq!(wall, Duration::from_millis(13 * 50 + 105));
    }

    #[test]
    fn a_restore_queries_only_flows_and_triggers() {
        let restore = Work::restore(&work(), 2_500, 2_000);
        assert_eq!(restore.query_pages, vec![2, 1]);
        assert_eq!(restore.writes, 80);
        assert_eq!(pages(0, 2_000), 1);
    }
}
