//! Go's process collector families (client_golang v1.24 on Linux), read from `/proc/self`:
//! `process_cpu_seconds_total` (user + system, at clock-tick resolution), `process_open_fds`,
//! `process_max_fds`, `process_virtual_memory_bytes`, `process_virtual_memory_max_bytes`,
//! `process_resident_memory_bytes`, `process_start_time_seconds`, and
//! `process_network_receive_bytes_total` / `process_network_transmit_bytes_total`; plus
//! `process_threads`, which the `prometheus` crate's collector (used before) exported and Go
//! has as `go_threads`. The crate's collector counted CPU in whole seconds, which makes
//! `rate()` of a mostly idle controller a staircase; this one keeps the ticks.
//!
//! The network counters are read, as Go's collector reads them, from the `IpExt` line of
//! `/proc/self/net/netstat`: they count every byte of the process's network namespace, not of
//! the process alone (in a pod, the pod's traffic). A value that cannot be read leaves its
//! family out of that scrape, as a failing read does in Go.

use std::sync::Mutex;

use prometheus::core::{Collector, Desc};
use prometheus::{Counter, Gauge, IntGauge, Opts, proto};

/// The process collector; cheap enough for every scrape (a few small `/proc` reads).
pub struct ProcessCollector {
    cpu: Counter,
    open_fds: Gauge,
    max_fds: Gauge,
    vsize: Gauge,
    max_vsize: Gauge,
    rss: Gauge,
    start_time: Gauge,
    receive: Counter,
    transmit: Counter,
    threads: IntGauge,
    descs: Vec<Desc>,
    /// Serialises collections, so that two scrapes do not both add the same delta.
    collecting: Mutex<()>,
}

/// Moves a counter up to the absolute reading `now` (the kernel's counters only grow).
fn advance(counter: &Counter, now: f64) {
    let delta = now - counter.get();
    if delta > 0.0 {
        counter.inc_by(delta);
    }
}

impl ProcessCollector {
    /// # Errors
    /// A metric description is invalid (a programming error).
    pub fn new() -> prometheus::Result<Self> {
        let gauge = |name: &str, help: &str| Gauge::with_opts(Opts::new(name, help));
        let counter = |name: &str, help: &str| Counter::with_opts(Opts::new(name, help));
        // Go's names and help texts.
        let cpu = counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        )?;
        let open_fds = gauge("process_open_fds", "Number of open file descriptors.")?;
        let max_fds = gauge(
            "process_max_fds",
            "Maximum number of open file descriptors.",
        )?;
        let vsize = gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        )?;
        let max_vsize = gauge(
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
        )?;
        let rss = gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        )?;
        let start_time = gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        )?;
        let receive = counter(
            "process_network_receive_bytes_total",
            "Number of bytes received by the process over the network.",
        )?;
        let transmit = counter(
            "process_network_transmit_bytes_total",
            "Number of bytes sent by the process over the network.",
        )?;
        let threads = IntGauge::with_opts(Opts::new(
            "process_threads",
            "Number of OS threads in the process.",
        ))?;
        let descs = [
            cpu.desc(),
            open_fds.desc(),
            max_fds.desc(),
            vsize.desc(),
            max_vsize.desc(),
            rss.desc(),
            start_time.desc(),
            receive.desc(),
            transmit.desc(),
            threads.desc(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        Ok(Self {
            cpu,
            open_fds,
            max_fds,
            vsize,
            max_vsize,
            rss,
            start_time,
            receive,
            transmit,
            threads,
            descs,
            collecting: Mutex::new(()),
        })
    }
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        let _one_at_a_time = self
            .collecting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut families = Vec::with_capacity(10);
        let Ok(me) = procfs::process::Process::myself() else {
            return families;
        };
        if let Ok(stat) = me.stat() {
            let ticks = procfs::ticks_per_second() as f64;
            advance(&self.cpu, (stat.utime + stat.stime) as f64 / ticks);
            families.extend(self.cpu.collect());
            self.vsize.set(stat.vsize as f64);
            families.extend(self.vsize.collect());
            self.rss.set((stat.rss * procfs::page_size()) as f64);
            families.extend(self.rss.collect());
            if let Ok(boot) = procfs::boot_time_secs() {
                self.start_time
                    .set(boot as f64 + stat.starttime as f64 / ticks);
                families.extend(self.start_time.collect());
            }
            self.threads.set(stat.num_threads);
            families.extend(self.threads.collect());
        }
        if let Ok(fds) = me.fd_count() {
            self.open_fds.set(fds as f64);
            families.extend(self.open_fds.collect());
        }
        if let Ok(limits) = std::fs::read_to_string("/proc/self/limits") {
            for (name, gauge) in [
                ("Max open files", &self.max_fds),
                ("Max address space", &self.max_vsize),
            ] {
                if let Some(limit) = soft_limit(&limits, name) {
                    gauge.set(limit);
                    families.extend(gauge.collect());
                }
            }
        }
        if let Some((received, sent)) = std::fs::read_to_string("/proc/self/net/netstat")
            .ok()
            .and_then(|text| ip_octets(&text))
        {
            advance(&self.receive, received);
            families.extend(self.receive.collect());
            advance(&self.transmit, sent);
            families.extend(self.transmit.collect());
        }
        families
    }
}

/// The soft limit named `name` in a `/proc/<pid>/limits` text; `unlimited` as Go's procfs
/// reads it (the largest `uint64`).
fn soft_limit(limits: &str, name: &str) -> Option<f64> {
    let line = limits.lines().find(|l| l.starts_with(name))?;
    let soft = line[name.len()..].split_whitespace().next()?;
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
    fn reads_soft_limits() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1048576              1048576              files     \n\
                      Max address space         unlimited            unlimited            bytes     \n";
        let space = "Max address space";
        assert_eq!(soft_limit(limits, space), Some(1.844_674_407_370_955_2e19));
        assert_eq!(soft_limit(limits, "Max open files"), Some(1_048_576.0));
        let limited = limits.replace(
            "unlimited            unlimited",
            "4096                 8192",
        );
        assert_eq!(soft_limit(&limited, space), Some(4096.0));
        assert_eq!(soft_limit("Max open files 1 1 files", space), None);
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
        let collector = ProcessCollector::new().unwrap();
        let families = collector.collect();
        let names: Vec<String> = families.iter().map(|f| f.name().to_owned()).collect();
        let value = |name: &str| {
            let family = families.iter().find(|f| f.name() == name).unwrap();
            let metric = &family.get_metric()[0];
            metric.get_gauge().get_value() + metric.get_counter().get_value()
        };
        // This test process started a moment ago, and has open files.
        let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
        let started = value("process_start_time_seconds");
        assert!(
            started <= now + 1.0 && started > now - 3600.0,
            "{started} vs {now}"
        );
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        assert!(value("process_resident_memory_bytes") > 0.0);
        for name in [
            "process_cpu_seconds_total",
            "process_open_fds",
            "process_max_fds",
            "process_virtual_memory_bytes",
            "process_virtual_memory_max_bytes",
            "process_resident_memory_bytes",
            "process_start_time_seconds",
            "process_threads",
        ] {
            assert!(names.contains(&name.to_owned()), "no {name} in {names:?}");
        }
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
