//! The `/v1/verify` and `/v1/rotate` rate limiter (SPEC §3.11): GCRA as in throttled v2, with a
//! bounded in-memory store.
//!
//! Upstream keys it on the whole `X-Forwarded-For` header, which the client writes: a new value
//! per request and the limit is gone. Here the key is the client as the last proxy saw it: the
//! last `X-Forwarded-For` entry (the API server's service proxy appends the address it got the
//! request from), or the peer address when there is no such header, at most
//! [`MAX_CLIENT_BYTES`] long; `server.rs` adds a looser limit per peer address for clients that
//! reach the Service directly.
//!
//! The limit is `burst + 1` requests, refilled at `rate` per second. Results carry what the
//! `X-RateLimit-*` and `Retry-After` headers need.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many keys the store keeps (upstream's LRU size).
pub const MAX_KEYS: usize = 65_536;

/// The longest client name kept in a key (an IPv6 address with a zone fits).
pub const MAX_CLIENT_BYTES: usize = 64;

/// One decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitResult {
    pub limited: bool,
    /// `X-RateLimit-Limit`: burst + 1.
    pub limit: u32,
    /// `X-RateLimit-Remaining`.
    pub remaining: u32,
    /// Time until the bucket is full again (`X-RateLimit-Reset`, rounded up to seconds).
    pub reset_after: Duration,
    /// Only when limited: time until one request is allowed (`Retry-After`, rounded up).
    pub retry_after: Option<Duration>,
}

impl RateLimitResult {
    /// `(name, value)` headers as throttled writes them.
    #[must_use]
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("X-RateLimit-Limit", self.limit.to_string()),
            ("X-RateLimit-Remaining", self.remaining.to_string()),
            ("X-RateLimit-Reset", ceil_secs(self.reset_after).to_string()),
        ];
        if let Some(retry) = self.retry_after {
            out.push(("Retry-After", ceil_secs(retry).to_string()));
        }
        out
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Generic cell rate algorithm with per-key theoretical arrival times.
#[derive(Debug)]
pub struct RateLimiter {
    emission_interval: Duration,
    delay_variation_tolerance: Duration,
    limit: u32,
    tats: Mutex<HashMap<String, Instant>>,
}

impl RateLimiter {
    /// `rate` requests per second sustained, `burst` extra. `rate` must be at least 1.
    #[must_use]
    pub fn new(rate: u32, burst: u32) -> Self {
        let emission_interval = Duration::from_secs(1) / rate.max(1);
        Self {
            emission_interval,
            delay_variation_tolerance: emission_interval * (burst + 1),
            limit: burst + 1,
            tats: Mutex::new(HashMap::new()),
        }
    }

    /// Who a request comes from: the last entry of the (last) `X-Forwarded-For` header,
    /// trimmed and lower-cased, else the peer address; at most [`MAX_CLIENT_BYTES`].
    #[must_use]
    pub fn client(forwarded_for: Option<&str>, peer: Option<std::net::IpAddr>) -> String {
        let hop = forwarded_for
            .and_then(|header| header.rsplit(',').next())
            .map(str::trim)
            .filter(|hop| !hop.is_empty());
        let mut client = match (hop, peer) {
            (Some(hop), _) => hop.to_lowercase(),
            (None, Some(peer)) => peer.to_string(),
            (None, None) => String::new(),
        };
        if client.len() > MAX_CLIENT_BYTES {
            let mut end = MAX_CLIENT_BYTES;
            while !client.is_char_boundary(end) {
                end -= 1;
            }
            client.truncate(end);
        }
        client
    }

    /// The store key for a request: the client (see [`client`](Self::client)) and the path,
    /// each followed by a newline.
    #[must_use]
    pub fn key(forwarded_for: Option<&str>, path: &str) -> String {
        format!(
            "{}\n{path}\n",
            forwarded_for.unwrap_or_default().to_lowercase()
        )
    }

    /// Decides whether one request under `key` may proceed now.
    pub fn check(&self, key: &str) -> RateLimitResult {
        self.check_at(key, Instant::now())
    }

    /// [`check`](Self::check) at a given time (for tests).
    pub fn check_at(&self, key: &str, now: Instant) -> RateLimitResult {
        let mut tats = self
            .tats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tat = tats.get(key).copied().unwrap_or(now);
        let increment = self.emission_interval;
        let new_tat = if now > tat {
            now + increment
        } else {
            tat + increment
        };
        // allow_at = new_tat - tolerance; limited when now < allow_at.
        let allow_at = new_tat.checked_sub(self.delay_variation_tolerance);
        let mut result = RateLimitResult {
            limited: false,
            limit: self.limit,
            remaining: 0,
            reset_after: Duration::ZERO,
            retry_after: None,
        };
        let ttl = match allow_at {
            Some(allow_at) if now < allow_at => {
                result.limited = true;
                result.retry_after = Some(allow_at - now);
                tat.saturating_duration_since(now)
            }
            _ => {
                if tats.len() >= MAX_KEYS && !tats.contains_key(key) {
                    evict(&mut tats, now);
                }
                tats.insert(key.to_owned(), new_tat);
                new_tat.saturating_duration_since(now)
            }
        };
        // remaining = (tolerance - ttl) / interval, when that is above -1 interval.
        if let Some(next) = self.delay_variation_tolerance.checked_sub(ttl) {
            let remaining = next.as_nanos() / self.emission_interval.as_nanos().max(1);
            result.remaining = u32::try_from(remaining).unwrap_or(u32::MAX);
        }
        result.reset_after = ttl;
        result
    }
}

/// Makes room in a full store: keys whose bucket is already full again carry no state, so they
/// go first; if none, an arbitrary key is dropped (an LRU would drop the oldest).
fn evict(tats: &mut HashMap<String, Instant>, now: Instant) {
    let before = tats.len();
    tats.retain(|_, tat| *tat > now);
    if tats.len() == before
        && let Some(key) = tats.keys().next().cloned()
    {
        tats.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_burst_plus_one_then_limits() {
        let rl = RateLimiter::new(2, 2);
        let now = Instant::now();
        let key = RateLimiter::key(Some("10.0.0.1"), "/v1/verify");
        let results: Vec<_> = (0..4).map(|_| rl.check_at(&key, now)).collect();
        assert!(!results[0].limited && !results[1].limited && !results[2].limited);
        assert!(results[3].limited);
        assert_eq!(results[0].limit, 3);
        assert_eq!(results[0].remaining, 2);
        assert_eq!(results[1].remaining, 1);
        assert_eq!(results[2].remaining, 0);
        let headers = results[3].headers();
        assert!(headers.iter().any(|(k, v)| *k == "Retry-After" && v == "1"));
        assert!(
            results[0]
                .headers()
                .iter()
                .all(|(k, _)| *k != "Retry-After")
        );
        // Half a second later one request is allowed again (rate 2/s).
        let later = now + Duration::from_millis(500);
        assert!(!rl.check_at(&key, later).limited);
        assert!(rl.check_at(&key, later).limited);
    }

    #[test]
    fn keys_are_independent_and_case_folded() {
        let rl = RateLimiter::new(1, 0);
        let now = Instant::now();
        let a = RateLimiter::key(Some("A"), "/v1/verify");
        assert_eq!(a, RateLimiter::key(Some("a"), "/v1/verify"));
        assert_eq!(RateLimiter::key(None, "/v1/verify"), "\n/v1/verify\n");
        assert!(!rl.check_at(&a, now).limited);
        assert!(rl.check_at(&a, now).limited);
        let b = RateLimiter::key(Some("b"), "/v1/verify");
        assert!(!rl.check_at(&b, now).limited);
    }

    #[test]
    fn store_is_bounded() {
        let rl = RateLimiter::new(1000, 0);
        let now = Instant::now();
        for i in 0..(MAX_KEYS + 10) {
            rl.check_at(&format!("k{i}"), now);
        }
        assert!(rl.tats.lock().unwrap().len() <= MAX_KEYS);
    }

    #[test]
    fn client_is_the_last_hop_or_the_peer_and_bounded() {
        let peer = Some(std::net::IpAddr::from([10, 0, 0, 9]));
        // What a client writes comes first; the API server's proxy appends the real address.
        assert_eq!(
            RateLimiter::client(Some("1.2.3.4, 5.6.7.8,  192.168.0.7 "), peer),
            "192.168.0.7"
        );
        assert_eq!(RateLimiter::client(Some("FE80::1"), peer), "fe80::1");
        assert_eq!(RateLimiter::client(None, peer), "10.0.0.9");
        assert_eq!(RateLimiter::client(Some(" , "), peer), "10.0.0.9");
        assert_eq!(RateLimiter::client(None, None), "");
        let long = "x".repeat(10_000);
        assert_eq!(
            RateLimiter::client(Some(&long), peer).len(),
            MAX_CLIENT_BYTES
        );
        let forged: Vec<String> = (0..100)
            .map(|i| RateLimiter::client(Some(&format!("10.9.{i}.1, 172.16.0.1")), peer))
            .collect();
        assert!(forged.iter().all(|c| c == "172.16.0.1"));
    }
}
