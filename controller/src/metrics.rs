//! Prometheus metrics with upstream's names, labels and help texts (SPEC §3.12), plus our own:
//! RSA decryptions performed, unseals skipped thanks to a matching digest, Secrets put back by
//! drift repair, and per key the number of SealedSecrets last opened with it
//! ([`KeyDependents`]). What a scrape answers (content type, gzip, the scrape counters) is
//! [`exposition`]; the `process_*` families are [`process`].

pub mod condition_info;
pub mod exposition;
#[cfg(target_os = "linux")]
pub mod process;
pub mod sealed_age;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

const NAMESPACE: &str = "sealed_secrets_controller";

/// `unseal_errors_total{reason}` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorReason {
    Fetch,
    Unseal,
    Update,
    Unmanaged,
    Status,
    /// A sealing key could not be used (ADR 0005 §2).
    KeyUnavailable,
}

impl ErrorReason {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorReason::Fetch => "fetch",
            ErrorReason::Unseal => "unseal",
            ErrorReason::Update => "update",
            ErrorReason::Unmanaged => "unmanaged",
            ErrorReason::Status => "status",
            ErrorReason::KeyUnavailable => "key_unavailable",
        }
    }
}

/// Every metric the controller exports, in its own registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub build_info: Gauge,
    pub unseal_requests: IntCounter,
    unseal_errors: IntCounterVec,
    condition_info: condition_info::ConditionInfo,
    /// `--metrics-omit-secret-labels`: `condition_info` is never set, so no SealedSecret's
    /// namespace and name reach the exposition through it (upstream v0.39's flag, which leaves
    /// every other metric as it is: `unseal_errors_total` keeps its `namespace` label).
    omit_secret_labels: bool,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    /// RSA private-key operations (each key tried on each item counts once).
    pub rsa_decrypt_operations: IntCounter,
    /// Reconciles that found the Secret already matching its SealedSecret (no decryption).
    pub unseal_skipped: IntCounter,
    /// Secrets changed outside their SealedSecret and put back (drift repair).
    pub secrets_repaired: IntCounter,
    /// `sealed_secrets_rs_key_dependents{fingerprint}`.
    pub key_dependents: KeyDependents,
    /// `sealed_secrets_rs_sealed_values_older_than{age}`, `…_unrecorded`.
    pub sealed_ages: sealed_age::SealedAges,
    /// promhttp's `promhttp_metric_handler_requests_total{code}`.
    scrapes: IntCounterVec,
    /// promhttp's `promhttp_metric_handler_requests_in_flight`.
    scrapes_in_flight: IntGauge,
}

/// Counts a scrape in flight until dropped.
#[derive(Debug)]
pub struct InFlight(IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Name of the per-key dependents gauge (our own prefix: not an upstream metric).
pub const KEY_DEPENDENTS_METRIC: &str = "sealed_secrets_rs_key_dependents";

/// Which keys last opened each SealedSecret, exported as one gauge series per key fingerprint:
/// how many SealedSecrets still depend on that key. Updated on every reconcile (a skipped one
/// reads the record in the Secret's digest), on unseal failures and on deletion. A key that is
/// registered but opens nothing shows 0.
#[derive(Clone)]
pub struct KeyDependents {
    gauge: IntGaugeVec,
    by_object: Arc<Mutex<Dependents>>,
}

/// A list of key fingerprints, shared by every object opened with the same keys.
type KeyList = Arc<[Box<str>]>;

/// `namespace/name` → the keys that opened it. The lists are interned: nearly every object
/// was opened with the same one or two keys, so each entry costs a name and a pointer.
#[derive(Default)]
struct Dependents {
    by_object: HashMap<Box<str>, KeyList>,
    /// The distinct lists in use (a handful: they name registered keys only); a list no object
    /// holds any more is dropped.
    lists: Vec<KeyList>,
}

impl Dependents {
    fn intern(&mut self, keys: &[String]) -> KeyList {
        let same = |list: &KeyList| {
            list.iter()
                .map(|k| &**k)
                .eq(keys.iter().map(String::as_str))
        };
        if let Some(list) = self.lists.iter().find(|l| same(l)) {
            return Arc::clone(list);
        }
        let list: KeyList = keys.iter().map(|k| k.as_str().into()).collect();
        self.lists.push(Arc::clone(&list));
        list
    }

    /// Drops the lists only `lists` itself still holds.
    fn prune(&mut self) {
        self.lists.retain(|l| Arc::strong_count(l) > 1);
    }
}

impl KeyDependents {
    fn objects(&self) -> std::sync::MutexGuard<'_, Dependents> {
        self.by_object
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `object` (`namespace/name`) was just opened with `keys`.
    pub fn record(&self, object: &str, keys: &[String]) {
        let mut objects = self.objects();
        if let Some(old) = objects.by_object.get(object)
            && old.iter().map(|k| &**k).eq(keys.iter().map(String::as_str))
        {
            return;
        }
        let list = objects.intern(keys);
        let old = objects.by_object.insert(object.into(), list);
        for fp in old.iter().flat_map(|l| l.iter()) {
            self.gauge.with_label_values(&[&**fp]).dec();
        }
        for fp in keys {
            self.gauge.with_label_values(&[fp.as_str()]).inc();
        }
        if old.is_some() {
            drop(old);
            objects.prune();
        }
    }

    /// `object` no longer depends on any key (deleted, or no key opens it any more).
    pub fn forget(&self, object: &str) {
        let mut objects = self.objects();
        if let Some(old) = objects.by_object.remove(object) {
            for fp in old.iter() {
                self.gauge.with_label_values(&[&**fp]).dec();
            }
            drop(old);
            objects.prune();
        }
    }

    /// Makes sure every registered key has a series (0 when nothing depends on it).
    pub fn observe_keys<'a>(&self, fingerprints: impl IntoIterator<Item = &'a str>) {
        for fp in fingerprints {
            let _ = self.gauge.with_label_values(&[fp]);
        }
    }

    /// The current count for one key (tests and logs).
    #[must_use]
    pub fn get(&self, fingerprint: &str) -> i64 {
        self.gauge.with_label_values(&[fingerprint]).get()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// A metric could not be registered (a programming error: duplicate names).
#[derive(Debug, thiserror::Error)]
#[error("cannot register metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

impl Metrics {
    /// Creates and registers the metrics; `version` fills `build_info{revision}`.
    ///
    /// # Errors
    /// Registration failed.
    pub fn new(version: &str) -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let build_info = Gauge::with_opts(
            Opts::new("build_info", "Build information.")
                .namespace(NAMESPACE)
                .const_label("revision", version),
        )?;
        let unseal_requests = IntCounter::with_opts(
            Opts::new(
                "unseal_requests_total",
                "Total number of sealed secret unseal requests",
            )
            .namespace(NAMESPACE),
        )?;
        let unseal_errors = IntCounterVec::new(
            Opts::new(
                "unseal_errors_total",
                "Total number of sealed secret unseal errors by reason",
            )
            .namespace(NAMESPACE),
            &["reason", "namespace"],
        )?;
        let condition_info = condition_info::ConditionInfo::new()?;
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "A counter for requests to the wrapped handler.",
            )
            .namespace(NAMESPACE),
            &["path", "code", "method"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "A histogram of latencies for requests.",
            )
            .namespace(NAMESPACE)
            .buckets(prometheus::DEFAULT_BUCKETS.to_vec()),
            &["path", "method"],
        )?;
        let rsa_decrypt_operations = IntCounter::with_opts(
            Opts::new(
                "rsa_decrypt_operations_total",
                "RSA private-key decryptions attempted (one per key tried per item)",
            )
            .namespace(NAMESPACE),
        )?;
        let unseal_skipped = IntCounter::with_opts(
            Opts::new(
                "unseal_skipped_total",
                "Reconciles that found the Secret already up to date by its keyed digest, without decrypting",
            )
            .namespace(NAMESPACE),
        )?;
        let secrets_repaired = IntCounter::with_opts(
            Opts::new(
                "secrets_repaired_total",
                "Secrets changed outside their SealedSecret and put back (drift repair)",
            )
            .namespace(NAMESPACE),
        )?;
        let key_dependents = KeyDependents {
            gauge: IntGaugeVec::new(
                Opts::new(
                    KEY_DEPENDENTS_METRIC,
                    "SealedSecrets last opened with this key (by fingerprint); 0 means no SealedSecret watched by this controller needs it",
                ),
                &["fingerprint"],
            )?,
            by_object: Arc::default(),
        };
        registry.register(Box::new(key_dependents.gauge.clone()))?;
        let sealed_ages = sealed_age::SealedAges::register(&registry)?;
        registry.register(Box::new(build_info.clone()))?;
        registry.register(Box::new(unseal_requests.clone()))?;
        registry.register(Box::new(unseal_errors.clone()))?;
        registry.register(Box::new(condition_info.clone()))?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(rsa_decrypt_operations.clone()))?;
        registry.register(Box::new(unseal_skipped.clone()))?;
        registry.register(Box::new(secrets_repaired.clone()))?;
        // The families (and help texts) of client_golang's `InstrumentMetricHandler`, which
        // upstream's `promhttp.Handler()` applies; the likely codes exist from the start.
        let scrapes = IntCounterVec::new(
            Opts::new(
                "promhttp_metric_handler_requests_total",
                "Total number of scrapes by HTTP status code.",
            ),
            &["code"],
        )?;
        for code in ["200", "500", "503"] {
            let _ = scrapes.with_label_values(&[code]);
        }
        let scrapes_in_flight = IntGauge::with_opts(Opts::new(
            "promhttp_metric_handler_requests_in_flight",
            "Current number of scrapes being served.",
        ))?;
        registry.register(Box::new(scrapes.clone()))?;
        registry.register(Box::new(scrapes_in_flight.clone()))?;
        // Go's process collector families (see [`process`]).
        #[cfg(target_os = "linux")]
        registry.register(Box::new(process::ProcessCollector::new()?))?;
        Ok(Self {
            registry,
            build_info,
            unseal_requests,
            unseal_errors,
            condition_info,
            omit_secret_labels: false,
            http_requests,
            http_duration,
            rsa_decrypt_operations,
            unseal_skipped,
            secrets_repaired,
            key_dependents,
            sealed_ages,
            scrapes,
            scrapes_in_flight,
        })
    }

    /// These metrics with `--metrics-omit-secret-labels` set to `omit`: when true,
    /// [`observe_condition`](Self::observe_condition) and
    /// [`forget_condition`](Self::forget_condition) do nothing, as upstream's
    /// `ObserveCondition`/`UnregisterCondition`. Set it before cloning: clones copy it.
    #[must_use]
    pub fn omitting_secret_labels(mut self, omit: bool) -> Self {
        self.omit_secret_labels = omit;
        self
    }

    /// A scrape starts: in flight until the returned guard drops.
    #[must_use]
    pub fn scrape_started(&self) -> InFlight {
        self.scrapes_in_flight.inc();
        InFlight(self.scrapes_in_flight.clone())
    }

    /// A scrape was answered with `code`.
    pub fn scrape_answered(&self, code: u16) {
        self.scrapes.with_label_values(&[&code.to_string()]).inc();
    }

    /// Counts one `unseal_errors_total{reason, namespace}`.
    pub fn unseal_error(&self, reason: ErrorReason, namespace: &str) {
        self.unseal_errors
            .with_label_values(&[reason.as_str(), namespace])
            .inc();
    }

    /// Sets `condition_info` for a SealedSecret's `Synced` condition (`status` is "True",
    /// "False" or anything else for unknown). Nothing with `--metrics-omit-secret-labels`.
    pub fn observe_condition(&self, namespace: &str, name: &str, instance: &str, status: &str) {
        if self.omit_secret_labels {
            return;
        }
        let value = match status {
            "True" => 1,
            "False" => -1,
            _ => 0,
        };
        // One series per object: a relabelled object's old series is replaced, not left.
        self.condition_info.set(namespace, name, instance, value);
    }

    /// Removes the `condition_info` series of a deleted SealedSecret (whatever its instance
    /// label; absent is fine: a SealedSecret may be deleted before its first status).
    pub fn forget_condition(&self, namespace: &str, name: &str, _instance: &str) {
        if self.omit_secret_labels {
            return;
        }
        self.condition_info.remove(namespace, name);
    }

    /// Records one HTTP request on an instrumented path.
    pub fn observe_http(&self, path: &str, method: &str, code: u16, elapsed: Duration) {
        let method = sanitize_method(method);
        self.http_requests
            .with_label_values(&[path, &code.to_string(), method])
            .inc();
        self.http_duration
            .with_label_values(&[path, method])
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition of every metric.
    #[must_use]
    pub fn encode(&self) -> (String, Vec<u8>) {
        self.sealed_ages
            .refresh(time::OffsetDateTime::now_utc().unix_timestamp());
        let encoder = TextEncoder::new();
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for IO reasons; a malformed family is skipped.
        let _ = encoder.encode(&self.registry.gather(), &mut out);
        (encoder.format_type().to_owned(), out)
    }

    /// Current value of `unseal_errors_total{reason, namespace}` (for tests and logs).
    #[must_use]
    pub fn unseal_error_count(&self, reason: ErrorReason, namespace: &str) -> u64 {
        self.unseal_errors
            .with_label_values(&[reason.as_str(), namespace])
            .get()
    }

    /// Current `condition_info` value of a SealedSecret, if the series exists.
    #[must_use]
    pub fn condition_value(&self, namespace: &str, name: &str) -> Option<f64> {
        self.condition_info.get(namespace, name).map(f64::from)
    }
}

/// promhttp's method label: the standard methods in lower case, anything else `unknown`.
fn sanitize_method(method: &str) -> &'static str {
    match method.to_ascii_uppercase().as_str() {
        "GET" => "get",
        "PUT" => "put",
        "HEAD" => "head",
        "POST" => "post",
        "DELETE" => "delete",
        "CONNECT" => "connect",
        "OPTIONS" => "options",
        "NOTIFY" => "notify",
        "TRACE" => "trace",
        "PATCH" => "patch",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_match_upstream() {
        let m = Metrics::new("0.1.0").unwrap();
        m.unseal_requests.inc();
        m.unseal_error(ErrorReason::Unseal, "ns");
        m.observe_condition("ns", "s", "", "False");
        m.observe_http("/v1/verify", "POST", 200, Duration::from_millis(3));
        let (content_type, body) = m.encode();
        assert!(content_type.starts_with("text/plain"));
        let text = String::from_utf8(body).unwrap();
        for needle in [
            "sealed_secrets_controller_build_info{revision=\"0.1.0\"} 0",
            "sealed_secrets_controller_unseal_requests_total 1",
            "sealed_secrets_controller_unseal_errors_total{namespace=\"ns\",reason=\"unseal\"} 1",
            "sealed_secrets_controller_condition_info{condition=\"Synced\",name=\"s\",namespace=\"ns\",ss_app_kubernetes_io_instance=\"\"} -1",
            "sealed_secrets_controller_http_requests_total{code=\"200\",method=\"post\",path=\"/v1/verify\"} 1",
            "sealed_secrets_controller_http_request_duration_seconds_bucket{method=\"post\",path=\"/v1/verify\",le=\"0.005\"} 1",
            "sealed_secrets_controller_rsa_decrypt_operations_total 0",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        m.forget_condition("ns", "s", "");
        let text = String::from_utf8(m.encode().1).unwrap();
        assert!(!text.contains("name=\"s\""));
    }

    #[test]
    fn omitting_secret_labels_leaves_no_condition_info() {
        let m = Metrics::new("0.1.0").unwrap().omitting_secret_labels(true);
        let clone = m.clone();
        clone.observe_condition("team-a", "db-password", "app", "True");
        clone.unseal_error(ErrorReason::Unseal, "team-a");
        let text = String::from_utf8(m.encode().1).unwrap();
        // No series, and so (as client_golang's registry) no family either.
        assert!(!text.contains("condition_info"), "{text}");
        assert!(!text.contains("db-password"), "{text}");
        assert_eq!(m.condition_value("team-a", "db-password"), None);
        // Upstream keeps every other metric: the error counter's namespace label stays.
        assert!(
            text.contains(
                "sealed_secrets_controller_unseal_errors_total{namespace=\"team-a\",reason=\"unseal\"} 1"
            ),
            "{text}"
        );
        m.forget_condition("team-a", "db-password", "app");
        assert!(m.condition_info.is_empty());
    }

    #[test]
    fn key_dependents_follow_records() {
        let m = Metrics::new("0").unwrap();
        let d = &m.key_dependents;
        d.observe_keys(["SHA256:a", "SHA256:b", "SHA256:c"]);
        d.record("ns/x", &["SHA256:a".to_owned()]);
        d.record("ns/y", &["SHA256:a".to_owned(), "SHA256:b".to_owned()]);
        d.record("ns/y", &["SHA256:a".to_owned(), "SHA256:b".to_owned()]);
        assert_eq!((d.get("SHA256:a"), d.get("SHA256:b")), (2, 1));
        // Re-keyed: y moves to c.
        d.record("ns/y", &["SHA256:c".to_owned()]);
        assert_eq!(
            (d.get("SHA256:a"), d.get("SHA256:b"), d.get("SHA256:c")),
            (1, 0, 1)
        );
        d.forget("ns/x");
        d.forget("ns/x");
        d.forget("ns/never");
        assert_eq!(d.get("SHA256:a"), 0);
        // The lists are shared, and dropped once nothing holds them: only y's is left.
        d.record("ns/z", &["SHA256:c".to_owned()]);
        {
            let objects = d.objects();
            assert_eq!(objects.lists.len(), 1);
            assert!(Arc::ptr_eq(
                &objects.by_object["ns/y"],
                &objects.by_object["ns/z"]
            ));
        }
        d.forget("ns/z");
        let text = String::from_utf8(m.encode().1).unwrap();
        assert!(
            text.contains("sealed_secrets_rs_key_dependents{fingerprint=\"SHA256:c\"} 1"),
            "{text}"
        );
        assert!(text.contains("sealed_secrets_rs_key_dependents{fingerprint=\"SHA256:b\"} 0"));
    }

    #[test]
    fn methods() {
        assert_eq!(sanitize_method("GET"), "get");
        assert_eq!(sanitize_method("post"), "post");
        assert_eq!(sanitize_method("BREW"), "unknown");
    }

    #[test]
    fn relabelled_object_leaves_one_series() {
        let m = Metrics::new("test").unwrap();
        m.observe_condition("ns", "s", "a", "True");
        m.observe_condition("ns", "s", "b", "False");
        let (_, text) = m.encode();
        let text = String::from_utf8(text).unwrap();
        let series = text
            .lines()
            .filter(|l| l.starts_with("sealed_secrets_controller_condition_info{"))
            .count();
        assert_eq!(series, 1, "{text}");
        assert!(
            text.contains("ss_app_kubernetes_io_instance=\"b\"} -1"),
            "{text}"
        );
        m.forget_condition("ns", "s", "stale");
        assert_eq!(m.condition_value("ns", "s"), None);
    }
}
