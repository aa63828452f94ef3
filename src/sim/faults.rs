//! Fault injection: the simulated network and the simulated org misbehaving on purpose.
//!
//! [`Faults`] is the configuration (the scenario's `[faults]` table, `SimHandle::set_faults`,
//! `POST /__sim/faults`). [`FaultEngine`] draws the decisions from seeded RNGs that live
//! behind the org's mutex, so a fixed seed and a fixed request sequence give the same faults
//! every run. Drops, transient errors, slow answers, slow writes and admin conflicts each use
//! their own stream derived from the one seed, so each sequence depends only on the order of the
//! requests it is drawn for (a token call in between does not shift the transient sequence,
//! and turning slow answers on does not shift it either).

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// What goes wrong, and how often. `Default` is a well-behaved org (admin conflicts are on
/// by default because real Salesforce refuses overlapping admin writes; they only arise when
/// a client overlaps writes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Seed of the RNG that decides transient errors and dropped connections.
    #[serde(default)]
    pub seed: u64,
    /// Added to every request before it is answered (e.g. `"200ms"`). Writes hold the org's
    /// "admin operation in progress" marker for this long.
    #[serde(default, with = "human_duration")]
    pub latency: Duration,
    /// Server time per subrequest of an API request, on top of `latency`: a composite of 25
    /// items costs 25 of these, any other API request one. Models the org doing the work of
    /// each item, so a benchmark cannot make batching look free.
    #[serde(default, with = "human_duration")]
    pub subrequest_cost: Duration,
    /// Share (0.0–1.0) of API requests answered with a transient error, alternating between
    /// 503 `SERVER_UNAVAILABLE` and 400 `UNABLE_TO_LOCK_ROW`. The request has no effect.
    #[serde(default)]
    pub transient_error_rate: f64,
    /// Share (0.0–1.0) of requests whose connection is dropped without a response. The
    /// request is still processed (a write still happens): the answer is what gets lost.
    #[serde(default)]
    pub drop_rate: f64,
    /// Answer a write that overlaps another write with `UNKNOWN_EXCEPTION`
    /// "admin operation already in progress".
    #[serde(default = "default_true")]
    pub admin_conflicts: bool,
    /// Share (0.0–1.0) of writes refused with "admin operation already in progress" because
    /// someone else's admin operation (a save in Setup, a deploy) holds the org at that
    /// moment. Unlike `admin_conflicts`, this needs no overlap from the client.
    #[serde(default)]
    pub admin_conflict_rate: f64,
    /// Share (0.0–1.0) of API requests answered only after `slow_delay`. Salesforce does not
    /// notice a client that gave up: a slow request is carried out at the end of the delay
    /// whether or not anyone still waits for the answer, so a slow write still lands, and it
    /// holds the org's "admin operation in progress" marker for the whole delay.
    #[serde(default)]
    pub slow_rate: f64,
    /// Share (0.0–1.0) of writes answered only after `slow_delay`, on top of `slow_rate`:
    /// saving setup metadata is what Salesforce is slowest at, and a slow write is the case
    /// whose outcome a client that gave up cannot know.
    #[serde(default)]
    pub slow_write_rate: f64,
    /// How long a slow answer takes (on top of `latency`); required when `slow_rate` or
    /// `slow_write_rate` is set.
    #[serde(default, with = "human_duration")]
    pub slow_delay: Duration,
    /// Access tokens expire this long after they were issued (absent: never).
    #[serde(default, with = "human_duration::option")]
    pub token_ttl: Option<Duration>,
    /// Access tokens expire after this many API requests (0: never).
    #[serde(default)]
    pub token_requests: u64,
    /// API calls the org's other clients use for each API request of this one, as a data
    /// load running during a window does: usage rises by `1 + shared_usage` per request (at
    /// most to the allowance). The daily limit can then run out part-way through work that
    /// had the calls when it started.
    #[serde(default)]
    pub shared_usage: u64,
}

fn default_true() -> bool {
    true
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            seed: 0,
            latency: Duration::ZERO,
            subrequest_cost: Duration::ZERO,
            transient_error_rate: 0.0,
            drop_rate: 0.0,
            admin_conflicts: true,
            admin_conflict_rate: 0.0,
            slow_rate: 0.0,
            slow_write_rate: 0.0,
            slow_delay: Duration::ZERO,
            token_ttl: None,
            token_requests: 0,
            shared_usage: 0,
        }
    }
}

impl Faults {
    /// Checks the rates; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, rate) in [
            ("transient_error_rate", self.transient_error_rate),
            ("drop_rate", self.drop_rate),
            ("admin_conflict_rate", self.admin_conflict_rate),
            ("slow_rate", self.slow_rate),
            ("slow_write_rate", self.slow_write_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!(
                    "faults.{key} must be between 0.0 and 1.0, got {rate}"
                ));
            }
        }
        for (key, rate) in [
            ("slow_rate", self.slow_rate),
            ("slow_write_rate", self.slow_write_rate),
        ] {
            if rate > 0.0 && self.slow_delay.is_zero() {
                return Err(format!(
                    "faults.{key} is {rate} but faults.slow_delay is 0s; set slow_delay to how \
                     long a slow answer takes (e.g. \"2s\")"
                ));
            }
        }
        Ok(())
    }

    /// How long an API request of `subrequests` items (1 unless it is a composite) takes
    /// before it is answered: the latency plus the server's cost of each item.
    pub fn service_time(&self, subrequests: usize) -> Duration {
        let items = u32::try_from(subrequests.max(1)).unwrap_or(u32::MAX);
        self.latency
            .saturating_add(self.subrequest_cost.saturating_mul(items))
    }

    /// The same faults with rates forced into 0.0–1.0 (NaN becomes 0), for callers that
    /// cannot report an error.
    fn clamped(mut self) -> Self {
        for rate in [
            &mut self.transient_error_rate,
            &mut self.drop_rate,
            &mut self.admin_conflict_rate,
            &mut self.slow_rate,
            &mut self.slow_write_rate,
        ] {
            *rate = if rate.is_nan() {
                0.0
            } else {
                rate.clamp(0.0, 1.0)
            };
        }
        self
    }
}

/// The transient error to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transient {
    ServerUnavailable,
    UnableToLockRow,
}

/// Draws fault decisions. Lives inside the org state, behind its mutex.
#[derive(Debug)]
pub struct FaultEngine {
    faults: Faults,
    drop_rng: StdRng,
    transient_rng: StdRng,
    slow_rng: StdRng,
    slow_write_rng: StdRng,
    admin_rng: StdRng,
    next_transient: Transient,
}

impl FaultEngine {
    pub fn new(faults: Faults) -> Self {
        let faults = faults.clamped();
        FaultEngine {
            drop_rng: StdRng::seed_from_u64(faults.seed ^ 0xD509_D509),
            transient_rng: StdRng::seed_from_u64(faults.seed),
            slow_rng: StdRng::seed_from_u64(faults.seed ^ 0x5104_5104),
            slow_write_rng: StdRng::seed_from_u64(faults.seed ^ 0x5104_3717),
            admin_rng: StdRng::seed_from_u64(faults.seed ^ 0xAD31_AD31),
            faults,
            next_transient: Transient::ServerUnavailable,
        }
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Replaces the configuration and restarts the random sequence from its seed.
    pub fn set(&mut self, faults: Faults) {
        *self = FaultEngine::new(faults);
    }

    /// Whether this request's connection is dropped. Drawn once for every request under
    /// `/services`, so the sequence depends only on the seed and the request order.
    pub fn draw_drop(&mut self) -> bool {
        let roll: f64 = self.drop_rng.random();
        roll < self.faults.drop_rate
    }

    /// Whether this API request fails transiently, and how. Drawn once per API request.
    pub fn draw_transient(&mut self) -> Option<Transient> {
        let roll: f64 = self.transient_rng.random();
        if roll >= self.faults.transient_error_rate {
            return None;
        }
        let this = self.next_transient;
        self.next_transient = match this {
            Transient::ServerUnavailable => Transient::UnableToLockRow,
            Transient::UnableToLockRow => Transient::ServerUnavailable,
        };
        Some(this)
    }

    /// How long this API request's answer is held back beyond the latency, if it is slow.
    /// Drawn once per API request, and once more from its own stream for every write.
    pub fn draw_slow(&mut self, write: bool) -> Option<Duration> {
        let roll: f64 = self.slow_rng.random();
        let mut slow = roll < self.faults.slow_rate;
        if write {
            let roll: f64 = self.slow_write_rng.random();
            slow |= roll < self.faults.slow_write_rate;
        }
        slow.then_some(self.faults.slow_delay)
    }

    /// Whether someone else's admin operation refuses this write. Drawn once per write.
    pub fn draw_admin_conflict(&mut self) -> bool {
        let roll: f64 = self.admin_rng.random();
        roll < self.faults.admin_conflict_rate
    }
}

/// Serde for human durations (`"90s"`, `"2h 30m"`, or ISO 8601 `"PT90S"`), parsed by jiff.
pub mod human_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Parses a non-negative human duration.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let signed: jiff::SignedDuration = text
            .trim()
            .parse()
            .map_err(|err| format!("invalid duration `{text}`: {err}"))?;
        Duration::try_from(signed).map_err(|_| format!("duration `{text}` must not be negative"))
    }

    /// Formats a duration the way [`parse`] reads it, e.g. `1m 30s`.
    pub fn format(duration: Duration) -> String {
        match jiff::SignedDuration::try_from(duration) {
            Ok(signed) => format!("{signed:#}"),
            // Only durations beyond i64 seconds fail; say so in seconds.
            Err(_) => format!("{}s", duration.as_secs()),
        }
    }

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(*duration))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Duration>` (absent or `null` is `None`).
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            duration: &Option<Duration>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match duration {
                Some(duration) => serializer.serialize_str(&super::format(*duration)),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Duration>, D::Error> {
            Option::<String>::deserialize(deserializer)?
                .map(|text| super::parse(&text).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for text in ["90s", "2h", "150ms", "2h 30m"] {
            let parsed = human_duration::parse(text).expect("valid duration");
            assert_eq!(
                human_duration::parse(&human_duration::format(parsed)),
                Ok(parsed)
            );
        }
        assert_eq!(human_duration::parse("90s"), Ok(Duration::from_secs(90)));
        assert!(human_duration::parse("-5s").is_err());
        assert!(human_duration::parse("soon").is_err());
    }

    #[test]
    fn the_same_seed_gives_the_same_faults_and_transients_alternate() {
        let faults = Faults {
            seed: 7,
            transient_error_rate: 0.5,
            drop_rate: 0.2,
            ..Faults::default()
        };
        let run = |faults: &Faults| {
            let mut engine = FaultEngine::new(faults.clone());
            (0..200)
                .map(|_| (engine.draw_drop(), engine.draw_transient()))
                .collect::<Vec<_>>()
        };
        let first = run(&faults);
        assert_eq!(first, run(&faults));
        let transients: Vec<Transient> = first.iter().filter_map(|(_, t)| *t).collect();
        assert!(transients.len() > 50 && transients.len() < 150);
        for pair in transients.windows(2) {
            assert_ne!(pair[0], pair[1]);
        }
        assert!(first.iter().any(|(dropped, _)| *dropped));
    }

    #[test]
    fn rates_outside_the_unit_interval_are_refused_or_clamped() {
        let faults = Faults {
            drop_rate: 1.5,
            ..Faults::default()
        };
        assert!(faults.validate().unwrap_err().contains("faults.drop_rate"));
        let mut engine = FaultEngine::new(faults);
        assert!((0..10).all(|_| engine.draw_drop()));
    }

    #[test]
    fn a_composite_costs_its_items_and_any_other_request_one() {
        let faults = Faults {
            latency: Duration::from_millis(50),
            subrequest_cost: Duration::from_millis(2),
            ..Faults::default()
        };
        assert_eq!(faults.service_time(1), Duration::from_millis(52));
        assert_eq!(
            faults.service_time(0),
            Duration::from_millis(52),
            "at least one item"
        );
        assert_eq!(faults.service_time(25), Duration::from_millis(100));
        assert_eq!(Faults::default().service_time(25), Duration::ZERO);
        let parsed: Faults =
            toml::from_str("latency = \"50ms\"\nsubrequest_cost = \"2ms\"\n").expect("parse");
        assert_eq!(parsed, faults);
    }
}
