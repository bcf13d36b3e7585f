//! The process families Go's process collector exports that the `prometheus` crate's does not:
//! `process_virtual_memory_max_bytes` (the address-space limit) and
//! `process_network_receive_bytes_total` / `process_network_transmit_bytes_total`.
//!
//! The network counters are read, as Go's collector reads them, from the `IpExt` line of
//! `/proc/self/net/netstat`: they count every byte of the process's network namespace, not of
//! the process alone (in a pod, the pod's traffic). A value that cannot be read leaves the
//! family out of that scrape, as a failing read does in Go.

use std::sync::Mutex;

use prometheus::core::{Collector, Desc};
use prometheus::{Counter, Gauge, Opts, proto};

/// Collector for the three families; cheap enough for every scrape (two small `/proc` reads).
pub struct ProcessExtras {
    max_vsize: Gauge,
    receive: Counter,
    transmit: Counter,
    descs: Vec<Desc>,
    /// Serialises collections, so that two scrapes do not both add the same delta.
    collecting: Mutex<()>,
}

impl ProcessExtras {
    /// # Errors
    /// A metric description is invalid (a programming error).
    pub fn new() -> prometheus::Result<Self> {
        let max_vsize = Gauge::with_opts(Opts::new(
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
        ))?;
        let receive = Counter::with_opts(Opts::new(
            "process_network_receive_bytes_total",
            "Number of bytes received by the process over the network.",
        ))?;
        let transmit = Counter::with_opts(Opts::new(
            "process_network_transmit_bytes_total",
            "Number of bytes sent by the process over the network.",
        ))?;
        let descs = [max_vsize.desc(), receive.desc(), transmit.desc()]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        Ok(Self {
            max_vsize,
            receive,
            transmit,
            descs,
            collecting: Mutex::new(()),
        })
    }
}

impl Collector for ProcessExtras {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        let _one_at_a_time = self
            .collecting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut families = Vec::with_capacity(3);
        if let Some(limit) = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|text| address_space_limit(&text))
        {
            self.max_vsize.set(limit);
            families.extend(self.max_vsize.collect());
        }
        if let Some((received, sent)) = std::fs::read_to_string("/proc/self/net/netstat")
            .ok()
            .and_then(|text| ip_octets(&text))
        {
            for (counter, now) in [(&self.receive, received), (&self.transmit, sent)] {
                // The kernel's counters only grow; a namespace's counters never reset under us.
                let delta = now - counter.get();
                if delta > 0.0 {
                    counter.inc_by(delta);
                }
                families.extend(counter.collect());
            }
        }
        families
    }
}

/// The soft `Max address space` limit of a `/proc/<pid>/limits` text; `unlimited` as Go's
/// procfs reads it (the largest `uint64`).
fn address_space_limit(limits: &str) -> Option<f64> {
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    let soft = line["Max address space".len()..]
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        // Go's procfs reads it as the largest uint64, exported as the nearest float.
        return Some(u64::MAX as f64);
    }
    soft.parse::<u64>().ok().map(|v| v as f64)
}

/// `IpExt: InOctets OutOctets` of a `/proc/<pid>/net/netstat` text (a header line of names
/// followed by a line of values).
fn ip_octets(netstat: &str) -> Option<(f64, f64)> {
    let mut lines = netstat.lines().filter_map(|l| l.strip_prefix("IpExt:"));
    let names = lines.next()?;
    let values = lines.next()?;
    let mut received = None;
    let mut sent = None;
    for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
        match name {
            "InOctets" => received = value.parse::<f64>().ok(),
            "OutOctets" => sent = value.parse::<f64>().ok(),
            _ => {}
        }
    }
    Some((received?, sent?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_address_space_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1048576              1048576              files     \n\
                      Max address space         unlimited            unlimited            bytes     \n";
        assert_eq!(
            address_space_limit(limits),
            Some(1.844_674_407_370_955_2e19)
        );
        let limited = limits.replace(
            "unlimited            unlimited",
            "4096                 8192",
        );
        assert_eq!(address_space_limit(&limited), Some(4096.0));
        assert_eq!(address_space_limit("Max open files 1 1 files"), None);
    }

    #[test]
    fn reads_ip_octets() {
        let netstat = "TcpExt: SyncookiesSent SyncookiesRecv\nTcpExt: 0 0\n\
                       IpExt: InNoRoutes InTruncatedPkts InOctets OutOctets\n\
                       IpExt: 0 0 863801912 345186716\n";
        assert_eq!(ip_octets(netstat), Some((863_801_912.0, 345_186_716.0)));
        assert_eq!(ip_octets("IpExt: InOctets\nIpExt: 1\n"), None);
        assert_eq!(ip_octets(""), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn collects_from_proc() {
        let extras = ProcessExtras::new().unwrap();
        let names: Vec<String> = extras
            .collect()
            .iter()
            .map(|f| f.name().to_owned())
            .collect();
        assert!(
            names.contains(&"process_virtual_memory_max_bytes".to_owned()),
            "{names:?}"
        );
        if std::path::Path::new("/proc/self/net/netstat").exists() {
            assert!(
                names.contains(&"process_network_receive_bytes_total".to_owned()),
                "{names:?}"
            );
            assert!(
                names.contains(&"process_network_transmit_bytes_total".to_owned()),
                "{names:?}"
            );
        }
    }
}
