//! What a run prints and writes: the results table (stdout and results.txt), targets with
//! PASS/MISS, results.json and the charts; and the machine description.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::db::Sys;
use crate::stats::{r3, Lat};

#[derive(Default)]
pub struct Report {
    rows: Vec<String>,
    targets: Vec<(String, String, bool)>,
    pub json: serde_json::Map<String, Value>,
    /// (file name, SVG document)
    pub charts: Vec<(String, String)>,
}

impl Report {
    pub fn section(&mut self, title: &str) {
        println!("\n== {title}");
        self.rows.push(String::new());
        self.rows.push(format!("== {title}"));
    }
    pub fn line(&mut self, s: String) {
        println!("{s}");
        self.rows.push(s);
    }
    pub fn target(&mut self, what: &str, value: String, pass: bool) {
        let s = target_line(what, &value, pass);
        println!("{s}");
        self.targets.push((what.to_string(), value, pass));
    }
    pub fn chart(&mut self, file: String, svg: String) {
        self.charts.push((file, svg));
    }

    /// results.json, results.txt and the charts.
    pub fn write(mut self, out_dir: &Path) -> std::io::Result<()> {
        let targets = self.targets.iter().map(|(w, v, p)| json!({"target": w, "value": v, "pass": p})).collect();
        self.json.insert("targets".into(), Value::Array(targets));
        std::fs::write(out_dir.join("results.json"), serde_json::to_string_pretty(&Value::Object(self.json)).unwrap())?;
        let mut table = self.rows.join("\n");
        table.push_str("\n\n== targets\n");
        for (w, v, p) in &self.targets {
            table.push_str(&target_line(w, v, *p));
            table.push('\n');
        }
        std::fs::write(out_dir.join("results.txt"), table)?;
        for (name, body) in &self.charts {
            std::fs::write(out_dir.join(name), body)?;
        }
        println!("wrote {}/results.json, results.txt and {} charts", out_dir.display(), self.charts.len());
        Ok(())
    }

    /// Adds this report's sections and JSON to the results an earlier run wrote in `out_dir`
    /// (the sections before its targets; starts the files if there are none), and writes the
    /// charts. For commands that run after the main run (`push`).
    pub fn append(self, out_dir: &Path) -> std::io::Result<()> {
        let json_path = out_dir.join("results.json");
        let mut all = match std::fs::read_to_string(&json_path).ok().and_then(|t| serde_json::from_str(&t).ok()) {
            Some(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        all.extend(self.json);
        std::fs::write(&json_path, serde_json::to_string_pretty(&Value::Object(all)).unwrap())?;
        let txt_path = out_dir.join("results.txt");
        let old = std::fs::read_to_string(&txt_path).unwrap_or_default();
        let rows = self.rows.join("\n");
        let txt = match old.find("\n\n== targets\n") {
            Some(i) => format!("{}\n{rows}{}", &old[..i], &old[i..]),
            None => format!("{old}\n{rows}\n"),
        };
        std::fs::write(&txt_path, txt)?;
        for (name, body) in &self.charts {
            std::fs::write(out_dir.join(name), body)?;
        }
        println!("added to {}/results.json and results.txt", out_dir.display());
        Ok(())
    }
}

fn target_line(what: &str, value: &str, pass: bool) -> String {
    format!("{:<4} {what}: {value}", if pass { "PASS" } else { "MISS" })
}

/// Header of the per-system latency table.
pub fn lat_header() -> String {
    format!("{:<34} {:<17} {:>9} {:>8} {:>8} {:>8} {:>9}", "workload", "system", "ops/s", "p50 ms", "p99 ms", "×floor", "×snapshot")
}

/// One row of the latency table: `sys`'s figures and its ratios to the baselines in `all`.
pub fn lat_line(label: &str, sys: Sys, l: &Lat, all: &BTreeMap<Sys, Lat>) -> String {
    let ratio = |b: Sys| match all.get(&b) {
        Some(x) if b != sys && x.ops_s > 0.0 => format!("{:.2}", l.ops_s / x.ops_s),
        _ => "-".into(),
    };
    format!(
        "{:<34} {:<17} {:>9.1} {:>8.3} {:>8.3} {:>8} {:>9}{}",
        label,
        sys.name(),
        l.ops_s,
        l.p50_ms,
        l.p99_ms,
        ratio(Sys::Floor),
        ratio(Sys::Snap),
        if l.retries > 0 { format!("  ({} retries)", l.retries) } else { String::new() }
    )
}

/// Every system's figures plus pg_nodesync's throughput ratios to the baselines.
pub fn lats_json(m: &BTreeMap<Sys, Lat>) -> Value {
    let mut o = serde_json::Map::new();
    for (s, l) in m {
        o.insert(s.name().into(), l.to_json());
    }
    if let (Some(e), Some(f)) = (m.get(&Sys::Ext), m.get(&Sys::Floor)) {
        o.insert("ratio_to_floor".into(), json!(r3(e.ops_s / f.ops_s)));
    }
    if let (Some(e), Some(f)) = (m.get(&Sys::Ext), m.get(&Sys::Snap)) {
        o.insert("ratio_to_snapshot_rewrite".into(), json!(r3(e.ops_s / f.ops_s)));
    }
    Value::Object(o)
}

/// The machine and server settings, for results.json.
pub fn machine(c: &mut postgres::Client, source: &str) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("?").trim().to_string();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|x| x.parse().ok())
        .unwrap_or(0.0);
    let ncpu = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let pkglib: String = c.query_one("SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'", &[]).unwrap().get(0);
    let mut show = |s: &str| -> String { c.query_one(&format!("SHOW {s}"), &[]).unwrap().get(0) };
    json!({
        "cpu_model": model, "nproc": ncpu, "memory_gib": r3(mem_kb / 1048576.0),
        "postgres": show("server_version"), "fsync": show("fsync"), "synchronous_commit": show("synchronous_commit"),
        "shared_buffers": show("shared_buffers"), "wal_level": show("wal_level"), "full_page_writes": show("full_page_writes"),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "extension_library_dir": pkglib,
        "loadavg": loadavg(),
        "source": source,
    })
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_string()
}
