//! Retrying transient failures: capped exponential backoff with jitter, bounded by
//! [`RetryPolicy::max_attempts`](super::RetryPolicy).

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tracing::warn;

use super::client::OrgClient;
use super::error::SfError;
use super::settings::RetryPolicy;

/// No retry waits less than this, whatever the policy says: a zero delay would send
/// `max_attempts` requests back to back into an org that just said it is busy.
const MIN_RETRY_DELAY: Duration = Duration::from_millis(1);

/// The delays between attempts of `policy`: at most `max_attempts - 1` of them, each at least
/// [`MIN_RETRY_DELAY`] and at most `max_delay`.
///
/// With jitter, backon adds up to the delay itself, so the exponential part is capped at
/// half of `max_delay`: the delays near the cap then spread over `[max/2, max]` instead of
/// all being clipped to exactly `max_delay`, which would put clients back in lockstep.
pub(crate) fn backoff(policy: RetryPolicy) -> ExponentialBuilder {
    let cap = policy.max_delay.max(MIN_RETRY_DELAY);
    let base_max = if policy.jitter {
        (cap / 2).max(MIN_RETRY_DELAY)
    } else {
        cap
    };
    let base_min = policy.min_delay.clamp(MIN_RETRY_DELAY, base_max);
    let retries = policy.max_attempts.max(1) - 1;
    let builder = ExponentialBuilder::default()
        .with_min_delay(base_min)
        .with_max_delay(base_max)
        .with_max_times(usize::try_from(retries).unwrap_or(usize::MAX));
    if policy.jitter {
        builder.with_jitter()
    } else {
        builder
    }
}

/// The cap on any one delay of `policy` (see [`backoff`]).
pub(crate) fn delay_cap(policy: RetryPolicy) -> Duration {
    policy.max_delay.max(MIN_RETRY_DELAY)
}

impl OrgClient {
    /// Runs `operation` until it succeeds, fails with an error that is not
    /// [transient](SfError::is_transient), or runs out of attempts.
    ///
    /// Retrying a whole request is safe for every call made through here: each is a read, a
    /// PATCH that sets fields to given values (never a toggle), or a composite of those. The
    /// deploy POST is not (a second one would start a second deploy) and is sent once, with
    /// `execute_once`. The
    /// 401 re-mint happens inside one attempt (see `attempt` in `client.rs`) and yields a
    /// permanent [`SfError::SessionInvalid`] if the new token is refused too, so it can
    /// neither loop nor use up attempts.
    ///
    /// The log line names the request by its path (never a URL with a token; the token only
    /// ever travels in the `Authorization` header) and shows the error's `Display`.
    pub(crate) async fn retrying<T, F, Fut>(&self, what: &str, operation: F) -> Result<T, SfError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, SfError>>,
    {
        let policy = self.retry_policy();
        let max_attempts = policy.max_attempts.max(1);
        let cap = delay_cap(policy);
        let org = self.org();
        let mut attempt: u32 = 1;
        operation
            .retry(backoff(policy))
            .sleep(tokio::time::sleep)
            .when(SfError::is_transient)
            // Jitter may add up to the delay itself; keep the cap a cap.
            .adjust(move |_, delay| delay.map(|delay| delay.min(cap)))
            .notify(|error, delay| {
                warn!(
                    org,
                    request = what,
                    attempt,
                    max_attempts,
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error = %error,
                    "transient Salesforce error; retrying"
                );
                attempt += 1;
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use backon::BackoffBuilder;

    use super::*;

    fn delays(policy: RetryPolicy) -> Vec<Duration> {
        backoff(policy)
            .build()
            .map(|delay| delay.min(delay_cap(policy)))
            .collect()
    }

    #[test]
    fn delays_are_bounded_in_number_and_size() {
        let policy = RetryPolicy::default();
        for _ in 0..50 {
            let delays = delays(policy);
            assert_eq!(delays.len(), 4, "max_attempts 5 means 4 retries");
            assert!(delays[0] >= policy.min_delay, "{delays:?}");
            assert!(delays.iter().all(|d| *d <= policy.max_delay), "{delays:?}");
        }
        assert!(delays(RetryPolicy::NONE).is_empty());
    }

    #[test]
    fn no_retry_waits_zero() {
        let zero = RetryPolicy {
            max_attempts: 4,
            min_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            jitter: true,
        };
        let delays = delays(zero);
        assert_eq!(delays.len(), 3);
        assert!(delays.iter().all(|d| *d >= MIN_RETRY_DELAY), "{delays:?}");
    }

    #[test]
    fn jitter_keeps_delays_apart_at_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 12,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            jitter: true,
        };
        // Late delays sit at the cap; with jitter they must not all be exactly the cap.
        let late: Vec<Duration> = (0..20).flat_map(|_| delays(policy).split_off(8)).collect();
        assert!(
            late.iter().all(|d| *d >= Duration::from_millis(500)),
            "{late:?}"
        );
        assert!(late.iter().any(|d| *d < policy.max_delay), "{late:?}");
    }

    #[test]
    fn without_jitter_delays_double_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 6,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            jitter: false,
        };
        let millis: Vec<u128> = delays(policy).iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [100, 200, 400, 500, 500]);
    }
}
