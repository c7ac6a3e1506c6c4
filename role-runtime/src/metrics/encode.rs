//! One scrape: the status report's values as samples of the table's
//! metrics (see [`super::table`]), written in the Prometheus text format by
//! prometheus-client. The values are read at scrape time, so they are
//! const metrics handed to a `Collector`, not instruments kept up to date.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use wire_format::{StatusReport, StatusValue};

use super::table::{Fact, Kind, Metric, Source, TABLE, Unit, matches};

/// `Content-Type` of what [`render`] writes (text format 0.0.4).
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// What one scrape knows: the report (None if it could not be had) and
/// what the process knows of itself.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub report: Option<&'a StatusReport>,
    pub degraded: bool,
    pub ready: bool,
    pub store_errors: u64,
    /// The binary (`ds-server`, ...) and its version, for `mhub_build_info`.
    pub binary: &'a str,
    pub version: &'a str,
    /// This node's name, empty while no report has named it.
    pub node: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Whole(u64),
    Real(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: Value,
}

/// Every metric of the table with its samples for one scrape (a metric
/// with none, such as another role's, is left out of the text).
#[derive(Debug)]
pub struct Snapshot(pub Vec<(&'static Metric, Vec<Sample>)>);

impl Snapshot {
    pub fn take(facts: &Facts<'_>) -> Snapshot {
        Snapshot(TABLE.iter().map(|m| (m, samples(m, facts))).collect())
    }

    /// The samples of the metric called `name`, for tests and checks.
    pub fn of(&self, name: &str) -> &[Sample] {
        (self.0.iter())
            .find(|(m, _)| m.name == name)
            .map_or(&[], |(_, s)| s.as_slice())
    }
}

fn samples(metric: &Metric, facts: &Facts<'_>) -> Vec<Sample> {
    let whole = |n: u64| vec![Sample::plain(Value::Whole(n))];
    match metric.source {
        Source::Fact(Fact::Up) => whole(1),
        Source::Fact(Fact::Degraded) => whole(facts.degraded.into()),
        Source::Fact(Fact::Ready) => whole(facts.ready.into()),
        Source::Fact(Fact::StoreErrors) => whole(facts.store_errors),
        Source::Fact(Fact::BuildInfo) => vec![Sample {
            labels: vec![
                ("role", facts.binary.to_owned()),
                ("version", facts.version.to_owned()),
                ("node", facts.node.to_owned()),
            ],
            value: Value::Whole(1),
        }],
        Source::Key {
            role,
            key,
            label,
            unit,
        } => {
            let Some(report) = facts.report.filter(|r| r.role == role) else {
                return Vec::new();
            };
            (report.items.iter())
                .filter_map(|item| {
                    let name = matches(key, &item.key)?;
                    let value = match (&item.value, unit) {
                        (StatusValue::Count(n), Unit::Count) => Value::Whole(*n),
                        (StatusValue::Count(n), Unit::Millis) => Value::Real(*n as f64 / 1000.0),
                        (StatusValue::Flag(b), Unit::Flag) => Value::Whole((*b).into()),
                        // A key whose value is not of the table's kind is
                        // not this metric (a role changed it): left out.
                        _ => return None,
                    };
                    let labels = label.map(|l| vec![(l, name.to_owned())]);
                    Some(Sample {
                        labels: labels.unwrap_or_default(),
                        value,
                    })
                })
                .collect()
        }
    }
}

impl Sample {
    fn plain(value: Value) -> Sample {
        Sample {
            labels: Vec::new(),
            value,
        }
    }
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        for (metric, samples) in &self.0 {
            let Some(first) = samples.first() else {
                continue;
            };
            // The encoder adds `_total` to a counter's samples itself.
            let (name, kind) = match metric.kind {
                Kind::Counter => (
                    metric.name.strip_suffix("_total").unwrap_or(metric.name),
                    MetricType::Counter,
                ),
                Kind::Gauge => (metric.name, MetricType::Gauge),
            };
            let mut family = encoder.encode_descriptor(name, metric.help, None, kind)?;
            if first.labels.is_empty() {
                encode_value(metric.kind, first.value, family)?;
                continue;
            }
            for sample in samples {
                let labelled = family.encode_family(&sample.labels)?;
                encode_value(metric.kind, sample.value, labelled)?;
            }
        }
        Ok(())
    }
}

fn encode_value(kind: Kind, value: Value, encoder: MetricEncoder<'_>) -> fmt::Result {
    match (kind, value) {
        (Kind::Counter, Value::Whole(n)) => ConstCounter::new(n).encode(encoder),
        (Kind::Counter, Value::Real(x)) => ConstCounter::new(x).encode(encoder),
        (Kind::Gauge, Value::Whole(n)) => ConstGauge::new(n).encode(encoder),
        (Kind::Gauge, Value::Real(x)) => ConstGauge::new(x).encode(encoder),
    }
}

/// The snapshot in the Prometheus text format (version 0.0.4).
pub fn render(snapshot: Snapshot) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot));
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)?;
    Ok(text)
}
