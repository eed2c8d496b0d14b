//! What `GET /metrics` reports, in the Prometheus text format. No label
//! names a principal, and a log only where the operator asked for it
//! (`--metrics-logs`): their number is unbounded.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// committed, rejected; for a push: ok, or the error it was answered.
    pub outcome: &'static str,
}

/// A push's log and outcome, for the logs watched (`--metrics-logs`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LogOutcome {
    pub log: String,
    pub outcome: &'static str,
}

/// At most this many logs get figures of their own.
pub const MAX_WATCHED_LOGS: usize = 100;

/// The logs whose pushes are counted by log; set once, at start.
static WATCHED: std::sync::OnceLock<std::collections::HashSet<String>> = std::sync::OnceLock::new();

/// Counts pushes by log for these logs (called once, at start).
pub fn watch_logs(logs: Vec<String>) {
    let _ = WATCHED.set(logs.into_iter().collect());
}

/// Whether pushes to `log` are counted by log.
pub fn watched(log: &str) -> bool {
    WATCHED.get().is_some_and(|w| w.contains(log))
}

/// The process's metrics.
pub static METRICS: std::sync::LazyLock<Metrics> = std::sync::LazyLock::new(Metrics::default);

pub struct Metrics {
    registry: Registry,
    pub pushes: Family<Outcome, Counter>,
    /// Pushes by log and outcome, for the logs watched only.
    pub log_pushes: Family<LogOutcome, Counter>,
    pub batches: Family<Outcome, Counter>,
    pub events_committed: Counter,
    pub push_seconds: Histogram,
    /// Pushes decided together, in one transaction (group commit).
    pub group_pushes: Histogram,
    pub storage_errors: Counter,
    pub live_readers: Gauge,
    /// Pages of live reads held in memory, and their bytes.
    pub live_pages: Gauge,
    pub live_page_bytes: Gauge,
    pub connections: Gauge,
    pub logs_in_memory: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("hindcast");
        let m = Metrics {
            pushes: Family::default(),
            log_pushes: Family::default(),
            batches: Family::default(),
            events_committed: Counter::default(),
            push_seconds: Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            group_pushes: Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
            storage_errors: Counter::default(),
            live_readers: Gauge::default(),
            live_pages: Gauge::default(),
            live_page_bytes: Gauge::default(),
            connections: Gauge::default(),
            logs_in_memory: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register("pushes", "Pushes answered, by outcome", m.pushes.clone());
        registry.register("batches", "Batches decided, by outcome", m.batches.clone());
        registry.register(
            "log_pushes",
            "Pushes answered, by log (the logs named by --metrics-logs) and outcome",
            m.log_pushes.clone(),
        );
        registry.register(
            "events_committed",
            "Events committed",
            m.events_committed.clone(),
        );
        registry.register(
            "push_seconds",
            "Time to answer a push",
            m.push_seconds.clone(),
        );
        registry.register(
            "group_pushes",
            "Pushes decided together in one group (one transaction)",
            m.group_pushes.clone(),
        );
        registry.register(
            "storage_errors",
            "Storage operations that failed",
            m.storage_errors.clone(),
        );
        registry.register("live_readers", "Live streams open", m.live_readers.clone());
        registry.register(
            "live_pages",
            "Pages of live reads held in memory",
            m.live_pages.clone(),
        );
        registry.register(
            "live_page_bytes",
            "Bytes of the pages of live reads held in memory",
            m.live_page_bytes.clone(),
        );
        registry.register("connections", "Connections open", m.connections.clone());
        registry.register(
            "logs_in_memory",
            "Logs whose decided state is held in memory",
            m.logs_in_memory.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    pub fn text(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}
