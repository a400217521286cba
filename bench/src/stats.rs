//! Latency statistics: an HDR histogram at microsecond resolution, 3 significant digits
//! (`hdrhistogram`), and the throughput/latency summary of one measured series.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// Recorded times, in microseconds.
#[derive(Clone)]
pub struct Hist(Histogram<u64>);

impl Default for Hist {
    fn default() -> Hist {
        // auto-resizing: any latency fits, 3 significant digits (0.1 %) at every magnitude
        Hist(Histogram::new(3).expect("3 significant digits"))
    }
}

impl Hist {
    pub fn record(&mut self, d: Duration) {
        self.record_us(d.as_secs_f64() * 1e6);
    }
    /// A time in microseconds (rounded to the microsecond).
    pub fn record_us(&mut self, us: f64) {
        self.0.record(us.max(0.0).round() as u64).expect("auto-resizing histogram");
    }
    pub fn add(&mut self, other: &Hist) {
        self.0.add(&other.0).expect("auto-resizing histogram");
    }
    pub fn len(&self) -> u64 {
        self.0.len()
    }
    /// The value below or at which a fraction `q` of the recorded times lie (nearest rank).
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.value_at_quantile(q) as f64
    }
    pub fn median_us(&self) -> f64 {
        self.quantile_us(0.5)
    }
    pub fn median_ms(&self) -> f64 {
        self.median_us() / 1000.0
    }
}

/// Throughput and latency of one measured series.
#[derive(Debug, Clone, Default)]
pub struct Lat {
    /// Operations measured.
    pub n: usize,
    /// Wall-clock seconds the operations took (summed over rounds).
    pub secs: f64,
    pub ops_s: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Refused patches (version conflicts) that had to be retried; should be 0.
    pub retries: usize,
}

impl Lat {
    /// From per-operation latencies and the wall-clock time they took.
    pub fn from_hist(h: &Hist, secs: f64) -> Lat {
        if h.len() == 0 {
            return Lat::default();
        }
        let n = h.len() as usize;
        Lat {
            n,
            secs,
            ops_s: if secs > 0.0 { n as f64 / secs } else { 0.0 },
            mean_ms: h.0.mean() / 1000.0,
            p50_ms: h.quantile_us(0.50) / 1000.0,
            p99_ms: h.quantile_us(0.99) / 1000.0,
            retries: 0,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "ops": self.n, "seconds": r3(self.secs), "ops_per_s": r3(self.ops_s),
            "mean_ms": r4(self.mean_ms), "p50_ms": r4(self.p50_ms), "p99_ms": r4(self.p99_ms),
            "retries": self.retries,
        })
    }
}

pub fn r3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}
pub fn r4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank_within_three_digits() {
        let mut h = Hist::default();
        for us in 1..=1000 {
            h.record_us(us as f64);
        }
        assert_eq!(h.len(), 1000);
        assert_eq!(h.median_us(), 500.0);
        assert_eq!(h.quantile_us(0.99), 990.0);
        let mut big = Hist::default();
        big.record(Duration::from_millis(4001));
        let got = big.median_us();
        assert!((got - 4_001_000.0).abs() / 4_001_000.0 < 1e-3, "{got}");
        let l = Lat::from_hist(&h, 2.0);
        assert_eq!((l.n, l.ops_s, l.p50_ms), (1000, 500.0, 0.5));
        assert_eq!(Lat::from_hist(&Hist::default(), 1.0).n, 0);
    }
}
