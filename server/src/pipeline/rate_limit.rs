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
    buckets: Mutex<Buckets>,
}

/// Each producer's tokens as of when they were last counted.
///
/// A bucket that would have refilled by now is the same as no bucket (a
/// new producer starts full), so it can be forgotten. Forgetting scans the
/// whole map, so it runs only once the map has doubled since the last
/// scan: each scan is paid for by the insertions before it, however many
/// producers stay active.
#[derive(Debug)]
struct Buckets {
    map: HashMap<String, (f64, Instant)>,
    /// The size at which the next scan runs.
    sweep_at: usize,
}

/// The fewest buckets before forgetting idle ones is worth a scan.
const SWEEP_FROM: usize = 100_000;

impl Buckets {
    /// Drops the buckets that are full again at `now`, and sets the next
    /// scan for when the map has doubled.
    fn sweep(&mut self, now: Instant, per_second: f64, capacity: f64) {
        self.map.retain(|_, (tokens, last)| {
            let elapsed = now.saturating_duration_since(*last).as_secs_f64();
            *tokens + elapsed * per_second < capacity
        });
        self.sweep_at = (self.map.len() * 2).max(SWEEP_FROM);
    }
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
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                sweep_at: SWEEP_FROM,
            }),
        }
    }

    /// Takes `counts` tokens (producer → records) at `now`, all or none.
    ///
    /// # Errors
    /// [`Limited`] for the first producer without enough tokens.
    pub fn take(&self, counts: &HashMap<String, usize>, now: Instant) -> Result<(), Limited> {
        let capacity = self.per_second.max(1.0);
        let mut guard = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if guard.map.len() >= guard.sweep_at {
            guard.sweep(now, self.per_second, capacity);
        }
        let buckets = &mut guard.map;
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_buckets_are_forgotten_without_a_scan_per_request() {
        let limiter = RateLimiter::new(10.0);
        let t0 = Instant::now();
        for i in 0..SWEEP_FROM {
            limiter.take(&one(&format!("p{i}"), 1), t0).unwrap();
        }
        let size = || limiter.buckets.lock().unwrap().map.len();
        assert_eq!(size(), SWEEP_FROM);
        // A second later every bucket has refilled (one token missing, ten
        // a second): the next request forgets them all, though none was
        // ever full when last counted.
        let later = t0 + Duration::from_secs(1);
        limiter.take(&one("new", 1), later).unwrap();
        assert_eq!(size(), 1);
        // Active producers are kept: the scan that ran when the map was
        // back at SWEEP_FROM kept every one, and the next waits for the map
        // to double, so until then requests cost no scan.
        let busy = |i: usize| format!("busy{i}");
        for i in 0..SWEEP_FROM {
            limiter.take(&one(&busy(i), 10), later).unwrap();
        }
        limiter.take(&one("one more", 1), later).unwrap();
        let buckets = limiter.buckets.lock().unwrap();
        assert_eq!(buckets.map.len(), SWEEP_FROM + 2);
        assert_eq!(buckets.sweep_at, 2 * SWEEP_FROM);
        // An emptied bucket still refuses: sweeping never forgave anyone.
        drop(buckets);
        assert!(limiter.take(&one(&busy(0), 1), later).is_err());
    }

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
