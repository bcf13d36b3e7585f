//! `sealed_secrets_controller_condition_info{namespace, name, condition, ss_app_kubernetes_io_instance}`:
//! one series per SealedSecret, upstream's family, held compactly.
//!
//! A `GaugeVec` child costs about 700 bytes (its label strings twice, the label pairs, an
//! `Arc`, a hash-map slot), which at 10,000 SealedSecrets was 7 MiB of the heap for one
//! number each. This collector keeps one entry per SealedSecret, `namespace/name` as a single
//! boxed string with the instance label and a small value beside it, and builds the family
//! only when scraped, as upstream's collector does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus::core::{Collector, Desc};
use prometheus::proto;

/// The family's name and help text (upstream's).
pub const NAME: &str = "sealed_secrets_controller_condition_info";
const HELP: &str =
    "Current SealedSecret condition status. Values are -1 (false), 0 (unknown or absent), 1 (true)";
/// The only condition upstream reports.
const CONDITION: &str = "Synced";

/// One series: the `ss_app_kubernetes_io_instance` label and the value (-1, 0 or 1).
struct Series {
    instance: Box<str>,
    value: i8,
}

/// The collector; its clones share the series (register one of them).
#[derive(Clone)]
pub struct ConditionInfo {
    desc: Desc,
    /// Keyed by `namespace/name` (neither may contain a `/`).
    series: Arc<Mutex<HashMap<Box<str>, Series>>>,
}

fn key(namespace: &str, name: &str) -> String {
    let mut key = String::with_capacity(namespace.len() + 1 + name.len());
    key.push_str(namespace);
    key.push('/');
    key.push_str(name);
    key
}

impl ConditionInfo {
    /// # Errors
    /// The description is invalid (a programming error).
    pub fn new() -> prometheus::Result<Self> {
        let desc = Desc::new(
            NAME.to_owned(),
            HELP.to_owned(),
            [
                "namespace",
                "name",
                "condition",
                "ss_app_kubernetes_io_instance",
            ]
            .map(str::to_owned)
            .to_vec(),
            HashMap::new(),
        )?;
        Ok(Self {
            desc,
            series: Arc::default(),
        })
    }

    fn series(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Series>> {
        self.series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets the series of `namespace/name` (one per object: a new instance label replaces the
    /// old series).
    pub fn set(&self, namespace: &str, name: &str, instance: &str, value: i8) {
        let key = key(namespace, name);
        let mut series = self.series();
        if let Some(s) = series.get_mut(key.as_str()) {
            if &*s.instance != instance {
                s.instance = instance.into();
            }
            s.value = value;
        } else {
            series.insert(
                key.into_boxed_str(),
                Series {
                    instance: instance.into(),
                    value,
                },
            );
        }
    }

    /// Removes the series of `namespace/name`, whatever its instance label.
    pub fn remove(&self, namespace: &str, name: &str) {
        self.series().remove(key(namespace, name).as_str());
    }

    /// The value of `namespace/name`'s series, if there is one.
    #[must_use]
    pub fn get(&self, namespace: &str, name: &str) -> Option<i8> {
        self.series()
            .get(key(namespace, name).as_str())
            .map(|s| s.value)
    }

    /// How many series there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.series().len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn pair(name: &str, value: &str) -> proto::LabelPair {
    let mut pair = proto::LabelPair::default();
    pair.set_name(name.to_owned());
    pair.set_value(value.to_owned());
    pair
}

impl Collector for ConditionInfo {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        let series = self.series();
        if series.is_empty() {
            // As client_golang's registry: no series, no family.
            return Vec::new();
        }
        let metrics = series
            .iter()
            .map(|(key, s)| {
                let (namespace, name) = key.split_once('/').unwrap_or(("", key));
                // Label pairs in name order, as the text format and the Vec types emit them.
                let mut metric = proto::Metric::from_label(vec![
                    pair("condition", CONDITION),
                    pair("name", name),
                    pair("namespace", namespace),
                    pair("ss_app_kubernetes_io_instance", &s.instance),
                ]);
                let mut gauge = proto::Gauge::default();
                gauge.set_value(f64::from(s.value));
                metric.set_gauge(gauge);
                metric
            })
            .collect();
        drop(series);
        let mut family = proto::MetricFamily::default();
        family.set_name(NAME.to_owned());
        family.set_help(HELP.to_owned());
        family.set_field_type(proto::MetricType::GAUGE);
        family.set_metric(metrics);
        vec![family]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_series_per_object() {
        let c = ConditionInfo::new().unwrap();
        assert!(c.collect().is_empty());
        c.set("ns", "a", "", -1);
        c.set("ns", "b", "app", 1);
        c.set("ns", "b", "other", 0);
        assert_eq!(c.len(), 2);
        assert_eq!((c.get("ns", "a"), c.get("ns", "b")), (Some(-1), Some(0)));
        let families = c.collect();
        assert_eq!(families.len(), 1);
        let family = &families[0];
        assert_eq!(family.name(), NAME);
        assert_eq!(family.get_field_type(), proto::MetricType::GAUGE);
        let b = family
            .get_metric()
            .iter()
            .find(|m| m.get_label()[1].value() == "b")
            .unwrap();
        let labels: Vec<(&str, &str)> = b
            .get_label()
            .iter()
            .map(|l| (l.name(), l.value()))
            .collect();
        assert_eq!(
            labels,
            [
                ("condition", "Synced"),
                ("name", "b"),
                ("namespace", "ns"),
                ("ss_app_kubernetes_io_instance", "other"),
            ]
        );
        c.remove("ns", "a");
        c.remove("ns", "never");
        assert_eq!(c.get("ns", "a"), None);
        assert_eq!(c.len(), 1);
    }
}
