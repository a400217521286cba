//! Latency statistics and a small deterministic random number generator (no dependencies).

use serde_json::{json, Value};

/// splitmix64: deterministic, seedable, good enough to pick nodes and keystrokes.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(0xD1B5_4A32_D192_ED03))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
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
    /// From per-operation latencies in microseconds and the wall-clock time they took.
    pub fn from_us(lat_us: &mut [f64], secs: f64) -> Lat {
        if lat_us.is_empty() {
            return Lat::default();
        }
        lat_us.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let n = lat_us.len();
        let mean = lat_us.iter().sum::<f64>() / n as f64;
        Lat {
            n,
            secs,
            ops_s: if secs > 0.0 { n as f64 / secs } else { 0.0 },
            mean_ms: mean / 1000.0,
            p50_ms: pct(lat_us, 0.50) / 1000.0,
            p99_ms: pct(lat_us, 0.99) / 1000.0,
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

/// Percentile of sorted values (nearest rank).
pub fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    pct(&s, 0.5)
}

pub fn r3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}
pub fn r4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}
