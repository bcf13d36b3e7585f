//! Leader election on a `coordination.k8s.io/v1` Lease (addition: upstream has none and must
//! run as a single replica, SPEC §3.13).
//!
//! With `--leader-elect`, every replica loads and watches the keys and serves the HTTP API
//! (`/v1/cert.pem`, `/v1/verify`, `/v1/rotate` need only the keys), but only the holder of the
//! Lease generates and renews keys and reconciles SealedSecrets, so two replicas never create two
//! keys or fight over a Secret. The algorithm is client-go's: the holder renews every
//! `retry_period`; another replica takes over once the record has not changed for
//! `lease_duration` *as measured by its own monotonic clock* (no clock-skew assumptions); writes
//! use the Lease's `resourceVersion`, so two candidates cannot both win. A leader that cannot
//! renew within `renew_deadline` stops leading; the process then exits and restarts as a
//! follower, the safe choice client-go's users make too.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::PostParams;

/// Timing, as client-go's defaults.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What this replica last saw of the Lease record, and when (monotonic).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observed {
    holder: String,
    renew_time: Option<Timestamp>,
    transitions: i32,
}

/// Competes for and holds one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    timing: Timing,
    observed: Option<(Observed, Instant)>,
}

/// Why one Lease call failed.
#[derive(Debug, thiserror::Error)]
enum LeaseCallError {
    #[error("{0}")]
    Api(kube::Error),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

/// Why leadership ended.
#[derive(Debug, thiserror::Error)]
#[error("lost the leader lease {name}: not renewed within {deadline:?}")]
pub struct LeadershipLost {
    name: String,
    deadline: Duration,
}

impl LeaderElector {
    #[must_use]
    pub fn new(api: Api<Lease>, name: &str, identity: String, timing: Timing) -> Self {
        Self {
            api,
            name: name.to_owned(),
            identity,
            timing,
            observed: None,
        }
    }

    /// This replica's identity in the Lease.
    #[must_use]
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Waits until this replica holds the Lease.
    pub async fn acquire(&mut self) {
        let mut waiting_logged = false;
        loop {
            match self.attempt(self.timing.renew_deadline).await {
                Ok(true) => {
                    tracing::info!(lease = %self.name, identity = %self.identity, "became leader");
                    return;
                }
                Ok(false) => {
                    if !waiting_logged {
                        let holder = self.observed.as_ref().map(|(o, _)| o.holder.clone());
                        tracing::info!(lease = %self.name, holder = ?holder, "waiting for leadership");
                        waiting_logged = true;
                    }
                }
                Err(error) => tracing::warn!(lease = %self.name, %error, "leader election failed"),
            }
            tokio::time::sleep(self.timing.retry_period).await;
        }
    }

    /// Renews the Lease until a renewal has failed for `renew_deadline`; returns then.
    pub async fn hold(&mut self) -> LeadershipLost {
        let mut last_renewed = Instant::now();
        loop {
            tokio::time::sleep(self.timing.retry_period).await;
            // A renewal that hangs must not outlive the deadline: past it another replica may
            // already hold the Lease, and this one must stop leading (client-go bounds each
            // attempt by the renew deadline too).
            let left = self
                .timing
                .renew_deadline
                .saturating_sub(last_renewed.elapsed());
            match self.attempt(left).await {
                Ok(true) => last_renewed = Instant::now(),
                Ok(false) => {
                    // Someone else holds it: we lost it already.
                    return self.lost();
                }
                Err(error) => tracing::warn!(lease = %self.name, %error, "lease renewal failed"),
            }
            if last_renewed.elapsed() > self.timing.renew_deadline {
                return self.lost();
            }
        }
    }

    fn lost(&self) -> LeadershipLost {
        LeadershipLost {
            name: self.name.clone(),
            deadline: self.timing.renew_deadline,
        }
    }

    /// One [`try_acquire_or_renew`](Self::try_acquire_or_renew) that gives up after `limit`.
    async fn attempt(&mut self, limit: Duration) -> Result<bool, LeaseCallError> {
        match tokio::time::timeout(limit, self.try_acquire_or_renew()).await {
            Ok(result) => result.map_err(LeaseCallError::Api),
            Err(_) => Err(LeaseCallError::TimedOut(limit)),
        }
    }

    /// Gives the Lease up (on shutdown), so a follower takes over at once.
    pub async fn release(&mut self) {
        let limit = self.timing.renew_deadline;
        let Ok(Ok(Some(mut lease))) =
            tokio::time::timeout(limit, self.api.get_opt(&self.name)).await
        else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        match tokio::time::timeout(
            limit,
            self.api.replace(&self.name, &PostParams::default(), &lease),
        )
        .await
        {
            Ok(Ok(_)) => tracing::info!(lease = %self.name, "released the leader lease"),
            Ok(Err(error)) => {
                tracing::warn!(lease = %self.name, %error, "could not release the lease");
            }
            Err(_) => tracing::warn!(lease = %self.name, "releasing the lease timed out"),
        }
    }

    /// One round of client-go's `tryAcquireOrRenew`: `Ok(true)` when we hold the Lease after it.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let duration_secs = i32::try_from(self.timing.lease_duration.as_secs()).unwrap_or(15);
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(error) => Err(error),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let seen = Observed {
            holder: spec.holder_identity.clone().unwrap_or_default(),
            renew_time: spec.renew_time.as_ref().map(|t| t.0),
            transitions: spec.lease_transitions.unwrap_or(0),
        };
        let record_duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.timing.lease_duration, Duration::from_secs);
        let changed_at = match &self.observed {
            Some((previous, at)) if *previous == seen => *at,
            _ => Instant::now(),
        };
        self.observed = Some((seen.clone(), changed_at));

        let mine = seen.holder == self.identity;
        let free = seen.holder.is_empty() || changed_at.elapsed() > record_duration;
        if !mine && !free {
            return Ok(false);
        }
        lease.spec = Some(LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(duration_secs),
            acquire_time: if mine {
                spec.acquire_time
            } else {
                Some(now.clone())
            },
            renew_time: Some(now),
            lease_transitions: Some(if mine {
                seen.transitions
            } else {
                seen.transitions.saturating_add(1)
            }),
            ..spec
        });
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            // Someone else wrote it first: not ours this round.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }
}

/// A unique identity for this replica: the pod name (or host name) plus a random suffix, so a
/// restarted pod with the same name never mistakes the previous holder's record for its own.
#[must_use]
pub fn identity() -> String {
    let host = std::env::var("POD_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "sealed-secrets-controller".to_owned());
    let mut suffix = [0_u8; 4];
    let _ = aws_lc_rs::rand::fill(&mut suffix);
    let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    format!("{host}_{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::Client;

    /// An API server that accepts connections and never answers.
    async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        (format!("http://{addr}"), task)
    }

    #[tokio::test]
    async fn a_renewal_that_hangs_ends_leadership_at_the_deadline() {
        let (url, _server) = silent_server().await;
        let config = kube::Config::new(url.parse().unwrap());
        let client = Client::try_from(config).unwrap();
        let timing = Timing {
            lease_duration: Duration::from_secs(3),
            renew_deadline: Duration::from_millis(600),
            retry_period: Duration::from_millis(100),
        };
        let mut elector =
            LeaderElector::new(Api::namespaced(client, "ns"), "lease", "me".into(), timing);
        // Without a bound on each call this would wait for ever on the first renewal.
        let lost = tokio::time::timeout(Duration::from_secs(60), elector.hold())
            .await
            .expect("hold() returns once the renew deadline has passed");
        assert_eq!(lost.deadline, timing.renew_deadline);
    }
}
