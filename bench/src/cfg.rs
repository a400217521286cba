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
            }
        }
    }
}
