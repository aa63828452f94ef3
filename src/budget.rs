//! The API budget of a pause: about how many of an org's daily API calls a pause and the
//! restore that ends it will take, and whether the org has that many left.
//!
//! The failure this guards against is the worst one pauseplay can cause: an org paused for a
//! window whose restore then stops on `REQUEST_LIMIT_EXCEEDED`, leaving its automation off
//! until the rolling 24-hour usage falls. So the engine checks, after a pause's discovery and
//! before its first write, that the calls left cover the rest of the pause *and* the whole
//! restore, and refuses the pause otherwise. `plan` shows the same estimate.
//!
//! The arithmetic is [`crate::floor`]'s (pages, batches of 25, one deploy), on the components
//! that switch, plus what the floor leaves out because it varies on a real org:
//! - the flows' read-back after the writes (one paged query), which the engine keeps as a
//!   guard;
//! - a deploy's polls: [`DEPLOY_POLLS`], or [`DEPLOY_POLLS_WITH_TESTS`] when a production
//!   deploy runs tests (polls back off to one each 30 s, so that allows about half an hour of
//!   tests; a longer test run costs about two calls a minute more);
//! - [`RETRY_MARGIN_PERCENT`] more for retried transient failures.
//!
//! An estimate that errs high refuses a pause the org could just have afforded; one that errs
//! low leaves an org paused. The tests check the estimate is never below what the simulated org
//! counts for the same work.

use crate::automation::Kind;
use crate::floor::Work;
use crate::salesforce::ApiUsage;

/// Polls allowed for a deploy that runs no tests: five back to back, then waits from 100 ms
/// doubling, which reach a minute in about fifteen polls.
pub const DEPLOY_POLLS: u64 = 15;

/// Polls allowed for a production deploy that runs tests.
pub const DEPLOY_POLLS_WITH_TESTS: u64 = 75;

/// Share added to the estimate for retries of transient failures.
pub const RETRY_MARGIN_PERCENT: u64 = 10;

/// Salesforce's query page size (reference §2.4): the estimate assumes full pages.
const PAGE_SIZE: u64 = 2_000;

/// The calls a pause and its restore take, beyond the pause's discovery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Estimate {
    /// Components that would switch.
    pub components: u64,
    /// The pause after its discovery: validation rules' `Metadata`, writes, the flows'
    /// read-back, the trigger deploy and its polls.
    pub pause: u64,
    /// The restore: current states, rules' `Metadata`, writes, read-back, deploy and polls.
    pub restore: u64,
}

impl Estimate {
    /// The estimate for switching components of these `kinds` (one item per component);
    /// `runs_tests` says whether a trigger deploy runs tests (production with a test level).
    pub fn for_kinds(kinds: impl IntoIterator<Item = Kind>, runs_tests: bool) -> Estimate {
        let mut counts = [0_u64; 4];
        for kind in kinds {
            let slot = match kind {
                Kind::Flow | Kind::ProcessBuilder => 0,
                Kind::ValidationRule => 1,
                Kind::WorkflowRule => 2,
                Kind::Trigger => 3,
            };
            counts[slot] += 1;
        }
        let [flows, validation_rules, workflow_rules, triggers] = counts;
        let polls = if runs_tests {
            DEPLOY_POLLS_WITH_TESTS
        } else {
            DEPLOY_POLLS
        };
        let flow_pages =
            |queries: usize| vec![flow_pages(flows); if flows > 0 { queries } else { 0 }];
        let writes = flows + validation_rules + workflow_rules;
        let deploy_polls = if triggers > 0 { polls } else { 0 };
        let pause = Work {
            // The read-back.
            query_pages: flow_pages(1),
            // Workflow rules' `Metadata` is read by every discovery, plan included.
            rule_reads: validation_rules,
            writes,
            triggers,
            deploy_polls,
        };
        let mut restore_pages = flow_pages(2);
        if triggers > 0 {
            restore_pages.push(triggers.div_ceil(PAGE_SIZE));
        }
        let restore = Work {
            query_pages: restore_pages,
            rule_reads: validation_rules + workflow_rules,
            writes,
            triggers,
            deploy_polls,
        };
        Estimate {
            components: writes + triggers,
            pause: with_margin(pause.floor().calls),
            restore: with_margin(restore.floor().calls),
        }
    }

    /// The calls the pause and its restore need together.
    pub fn total(&self) -> u64 {
        self.pause + self.restore
    }

    /// Whether an org with `usage` can afford this pause and its restore.
    pub fn check(&self, usage: ApiUsage) -> Result<(), Shortfall> {
        let remaining = usage.remaining();
        if self.total() <= remaining {
            Ok(())
        } else {
            Err(Shortfall {
                estimate: *self,
                remaining,
                max: usage.max,
            })
        }
    }
}

/// An org with fewer calls left than a pause and its restore need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    pub estimate: Estimate,
    pub remaining: u64,
    pub max: u64,
}

fn flow_pages(flows: u64) -> u64 {
    flows.div_ceil(PAGE_SIZE).max(1)
}

fn with_margin(calls: u64) -> u64 {
    calls + (calls * RETRY_MARGIN_PERCENT).div_ceil(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(counts: &[(Kind, usize)]) -> Vec<Kind> {
        counts
            .iter()
            .flat_map(|(kind, n)| std::iter::repeat_n(*kind, *n))
            .collect()
    }

    #[test]
    fn nothing_to_switch_costs_nothing() {
        let estimate = Estimate::for_kinds([], true);
        assert_eq!(estimate, Estimate::default());
        assert!(
            estimate
                .check(ApiUsage {
                    used: 100,
                    max: 100
                })
                .is_ok()
        );
    }

    #[test]
    fn flows_and_rules_cost_batches_and_the_read_back() {
        // 30 flows, 20 validation rules: pause = 1 read-back + 1 rule read + 2 writes = 4,
        // +10 % = 5; restore = 2 flow queries + 1 rule read + 2 writes = 5, +1 = 6.
        let all = kinds(&[(Kind::Flow, 30), (Kind::ValidationRule, 20)]);
        let estimate = Estimate::for_kinds(all.clone(), false);
        assert_eq!(
            (estimate.components, estimate.pause, estimate.restore),
            (50, 5, 6)
        );
    }

    #[test]
    fn triggers_add_a_deploy_and_its_polls_more_with_tests() {
        let all = kinds(&[(Kind::Trigger, 3)]);
        let sandbox = Estimate::for_kinds(all.clone(), false);
        // Deploy + 15 polls = 16, +2; the restore also queries the triggers: 17, +2.
        assert_eq!((sandbox.pause, sandbox.restore), (18, 19));
        let production = Estimate::for_kinds(all, true);
        assert_eq!((production.pause, production.restore), (84, 85));
    }

    #[test]
    fn the_check_counts_pause_and_restore_against_what_is_left() {
        let estimate = Estimate {
            components: 10,
            pause: 30,
            restore: 40,
        };
        assert!(estimate.check(ApiUsage { used: 30, max: 100 }).is_ok());
        let short = estimate
            .check(ApiUsage { used: 31, max: 100 })
            .expect_err("69 left, 70 needed");
        assert_eq!((short.remaining, short.max), (69, 100));
        // Usage reported above the limit (Salesforce lets a little overshoot) leaves nothing.
        let over = estimate
            .check(ApiUsage {
                used: 120,
                max: 100,
            })
            .expect_err("nothing left");
        assert_eq!(over.remaining, 0);
    }
}
