//! Sizes and durations of a full and a quick run.

/// Sizes and durations of one run.
pub struct Cfg {
    pub quick: bool,
    /// Alternating measurement rounds per system, and seconds per round.
    pub rounds: usize,
    pub round_secs: f64,
    /// Nodes of the workload-1 documents.
    pub w1_nodes: usize,
    /// Workload 2 sizes: (label, nodes); the last one is sectioned when `big_sections` > 0.
    pub sizes: Vec<(String, usize)>,
    pub big_sections: usize,
    /// Largest size the snapshot-rewrite baseline is loaded at.
    pub snap_max: usize,
    /// Doc size for the "insert among siblings" figure (flat).
    pub siblings: usize,
    pub diff_ks: Vec<usize>,
    pub snap_doc_big: usize,
    pub wal_edits: usize,
    pub trace_edits: usize,
    pub trace_paras: usize,
    pub trace_floor_edits: usize,
    pub trace_durable_edits: usize,
    pub trace_snap_edits: usize,
    /// Workload 8 (commits/s across documents, 5 systems x 4 document counts x 2 modes):
    /// alternating rounds and seconds per round.
    pub scale_rounds: usize,
    pub scale_secs: f64,
    /// Workload 9 (ordinary role vs superuser): alternating rounds and seconds per round (short
    /// rounds, many of them: its ratio is a ~10 % effect, smaller than this machine's drift).
    pub role_rounds: usize,
    pub role_secs: f64,
    /// `push` (latency of NOTIFY and of a logical slot): seconds per measurement.
    pub push_secs: f64,
}

impl Cfg {
    pub fn new(quick: bool) -> Cfg {
        if quick {
            Cfg {
                quick,
                rounds: 2,
                round_secs: 1.0,
                w1_nodes: 1_000,
                sizes: vec![("10".into(), 10), ("1k".into(), 1_000), ("10k".into(), 10_000), ("100k".into(), 100_000)],
                big_sections: 0,
                snap_max: 100_000,
                siblings: 100_000,
                diff_ks: vec![1, 10, 100, 1000],
                snap_doc_big: 100_000,
                wal_edits: 300,
                trace_edits: 20_000,
                trace_paras: 500,
                trace_floor_edits: 10_000,
                trace_durable_edits: 300,
                trace_snap_edits: 200,
                scale_rounds: 2,
                scale_secs: 0.5,
                role_rounds: 4,
                role_secs: 0.5,
                push_secs: 1.0,
            }
        } else {
            Cfg {
                quick,
                rounds: 3,
                round_secs: 2.0,
                w1_nodes: 1_000,
                sizes: vec![
                    ("10".into(), 10),
                    ("10k".into(), 10_000),
                    ("100k".into(), 100_000),
                    ("1M".into(), 1_000_001),
                ],
                big_sections: 1_000,
                snap_max: 100_000,
                siblings: 100_000,
                diff_ks: vec![1, 10, 100, 1000],
                snap_doc_big: 100_000,
                wal_edits: 1_000,
                trace_edits: 260_000,
                trace_paras: 2_000,
                trace_floor_edits: 52_000,
                trace_durable_edits: 2_000,
                trace_snap_edits: 1_000,
                scale_rounds: 3,
                scale_secs: 0.7,
                role_rounds: 6,
                role_secs: 0.75,
                push_secs: 1.5,
            }
        }
    }
}
