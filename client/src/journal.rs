//! The durable retry journal: one small JSON file per replica holding the patch in flight and
//! its `(client, seq)`, written (and fsynced) before the patch is sent and cleared once the
//! server has answered. A replica opened on a journal with a patch in flight resends the same
//! `(client, seq)`: the server answers with the original result (`"duplicate": true`) if the
//! first send committed, applies it if it never arrived, or refuses it cleanly — never twice.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// What the journal file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub doc: String,
    pub client: String,
    /// The seq of the patch in flight, or the last seq used when nothing is in flight.
    pub seq: i64,
    /// The patch in flight (`None`: nothing in flight).
    pub patch: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    pub fn new(path: impl Into<PathBuf>) -> Journal {
        Journal { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry, if the file exists. A torn or unreadable file is an error (it cannot be,
    /// since writes go through a rename, unless someone else wrote it).
    pub fn read(&self) -> std::io::Result<Option<Entry>> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("journal {}: {what}", self.path.display()));
        let v: Value = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
        Ok(Some(Entry {
            doc: v["doc"].as_str().ok_or_else(|| bad("no doc"))?.to_string(),
            client: v["client"].as_str().ok_or_else(|| bad("no client"))?.to_string(),
            seq: v["seq"].as_i64().ok_or_else(|| bad("no seq"))?,
            patch: match &v["patch"] {
                Value::Null => None,
                p => Some(p.clone()),
            },
        }))
    }

    /// Writes the entry durably: temp file, fsync, rename over the journal, fsync the directory.
    pub fn write(&self, e: &Entry) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
            let v = json!({"doc": e.doc, "client": e.client, "seq": e.seq, "patch": e.patch});
            f.write_all(v.to_string().as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("nodesync-journal-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let j = Journal::new(dir.join("j.json"));
        assert_eq!(j.read().unwrap(), None);
        let e = Entry { doc: "d".into(), client: "c".into(), seq: 7, patch: Some(json!({"ops": []})) };
        j.write(&e).unwrap();
        assert_eq!(j.read().unwrap(), Some(e.clone()));
        let done = Entry { patch: None, ..e };
        j.write(&done).unwrap();
        assert_eq!(j.read().unwrap(), Some(done));
        fs::remove_dir_all(&dir).unwrap();
    }
}
