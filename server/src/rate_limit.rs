//! Per-producer rate limits: a token bucket per producer, refilled at
//! `per_second` and holding at most one second's worth.
//!
//! A producer is the client certificate when producers authenticate with
//! mutual TLS; otherwise the key that signed a record (records mode), or
//! the client's IP address (opaque mode). A request is admitted or refused as
//! a whole, before anything is written, so a refused producer's earlier
//! entries are all there and nothing of the refused request is.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The token buckets.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// A refusal: who, and when to retry.
#[derive(Debug, Clone, PartialEq)]
pub struct Limited {
    /// The producer.
    pub producer: String,
    /// The limit, records per second.
    pub per_second: f64,
    /// When enough tokens will be there for this request, if ever.
    pub retry_after: Option<Duration>,
}

impl std::fmt::Display for Limited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.retry_after {
            Some(d) => write!(
                f,
                "producer {} is over its rate limit of {} records/s (--producer-rate-limit); retry in {} ms",
                self.producer,
                self.per_second,
                d.as_millis().max(1)
            ),
            None => write!(
                f,
                "the request carries more records from producer {} than its rate limit of {} records/s allows at once; split it",
                self.producer, self.per_second
            ),
        }
    }
}

impl RateLimiter {
    /// A limiter allowing `per_second` records per producer.
    pub fn new(per_second: f64) -> Self {
        RateLimiter {
            per_second,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `counts` tokens (producer → records) at `now`, all or none.
    ///
    /// # Errors
    /// [`Limited`] for the first producer without enough tokens.
    pub fn take(&self, counts: &HashMap<String, usize>, now: Instant) -> Result<(), Limited> {
        let capacity = self.per_second.max(1.0);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        // Refill, then check every producer before taking anything.
        for producer in counts.keys() {
            let (tokens, last) = buckets.entry(producer.clone()).or_insert((capacity, now));
            let elapsed = now.saturating_duration_since(*last).as_secs_f64();
            *tokens = (*tokens + elapsed * self.per_second).min(capacity);
            *last = now;
        }
        for (producer, &n) in counts {
            let tokens = buckets.get(producer).map_or(capacity, |b| b.0);
            if (n as f64) > tokens {
                let missing = n as f64 - tokens;
                return Err(Limited {
                    producer: producer.clone(),
                    per_second: self.per_second,
                    retry_after: ((n as f64) <= capacity)
                        .then(|| Duration::from_secs_f64(missing / self.per_second)),
                });
            }
        }
        for (producer, &n) in counts {
            if let Some(b) = buckets.get_mut(producer) {
                b.0 -= n as f64;
            }
        }
        // Forget idle producers now and then so the map stays small.
        if buckets.len() > 100_000 {
            buckets.retain(|_, (t, _)| *t < capacity);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(p: &str, n: usize) -> HashMap<String, usize> {
        HashMap::from([(p.to_owned(), n)])
    }

    #[test]
    fn buckets_refill_and_refuse_all_or_nothing() {
        let limiter = RateLimiter::new(10.0);
        let t0 = Instant::now();
        assert!(limiter.take(&one("a", 10), t0).is_ok());
        let refused = limiter.take(&one("a", 1), t0).unwrap_err();
        assert_eq!(refused.producer, "a");
        assert!(refused.retry_after.unwrap() <= Duration::from_millis(100));
        // Another producer has its own bucket.
        assert!(limiter.take(&one("b", 10), t0).is_ok());
        // Half a second later, five more.
        let later = t0 + Duration::from_millis(500);
        assert!(limiter.take(&one("a", 5), later).is_ok());
        // More than a second's worth can never pass: say so.
        let too_big = limiter.take(&one("c", 11), later).unwrap_err();
        assert_eq!(too_big.retry_after, None);
        assert!(too_big.to_string().contains("split it"));
        // All or nothing: "d" is fine but "a" is empty, so "d" keeps its tokens.
        let both = HashMap::from([("d".to_owned(), 10), ("a".to_owned(), 1)]);
        assert!(limiter.take(&both, later).is_err());
        assert!(limiter.take(&one("d", 10), later).is_ok());
    }
}
