//! The replica's public types: its configuration, errors, what a push and a pull report, and
//! its statistics.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::rebase::{Dropped, Policy};

pub(super) fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_micros() as i64)
}

/// How a replica behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// The document id.
    pub doc: String,
    /// This replica's client id (the `client` of `apply_patch`); unique per replica.
    pub client: String,
    /// Non-string values (and kinds) changed on both sides: the server's wins unless
    /// `LocalWins`. Strings changed on both sides always merge as text, under either policy.
    pub policy: Policy,
    /// Attempts per push before [`Error::Contention`].
    pub max_attempts: u32,
    /// First backoff after a conflict; doubles per attempt (with jitter) up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// The durable retry journal file (`None`: in-memory only).
    pub journal: Option<PathBuf>,
    /// Prefix of keys this replica creates (default: `<client>.<nonce>.`). Keys are never
    /// reused by the server, so the prefix must be unique per replica session.
    pub key_prefix: Option<String>,
    /// Seed for the backoff jitter.
    pub seed: u64,
    /// With a read connection ([`Replica::read_from`]): how long a read waits there
    /// (`nodesync.wait_gen`) for the gen it needs before it reads from the write connection.
    pub read_wait: Duration,
    /// Test hook (feature `sim` only): where this replica stops dead, to simulate a crash.
    #[cfg(feature = "sim")]
    pub crash: Option<CrashPoint>,
}

impl Config {
    pub fn new(doc: &str, client: &str) -> Config {
        Config {
            doc: doc.to_string(),
            client: client.to_string(),
            policy: Policy::ServerWins,
            max_attempts: 16,
            backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(50),
            journal: None,
            key_prefix: None,
            seed: now_micros() as u64,
            read_wait: Duration::from_secs(2),
            #[cfg(feature = "sim")]
            crash: None,
        }
    }
}

/// Test hook (feature `sim` only): where a replica stops dead (prints `CRASHPOINT <name>
/// <seq>` and sleeps until killed) to simulate a crash.
#[cfg(feature = "sim")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// After the journal is written, before the patch is sent.
    BeforeSend,
    /// After the server committed, before the client processed the answer.
    AfterSend,
}

#[derive(Debug)]
pub enum Error {
    /// A database error other than a patch conflict (connection lost, invalid patch, ...).
    Db(postgres::Error),
    /// The patch kept conflicting: `attempts` sends, `conflicts` is the last 40001 DETAIL.
    Contention { attempts: u32, conflicts: Value },
    /// The server answered something this client does not understand.
    Protocol(String),
    /// The journal could not be read or written.
    Journal(std::io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Db(e) => match e.as_db_error() {
                Some(db) => write!(f, "{} ({}){}", db.message(), db.code().code(), db.detail().map(|d| format!(": {d}")).unwrap_or_default()),
                None => write!(f, "{e}"),
            },
            Error::Contention { attempts, conflicts } => write!(f, "contention did not clear after {attempts} attempts; last conflicts: {conflicts}"),
            Error::Protocol(m) => write!(f, "unexpected server answer: {m}"),
            Error::Journal(e) => write!(f, "journal: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Error {
        Error::Db(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Journal(e)
    }
}

/// What a push did.
#[derive(Debug, Clone, PartialEq)]
pub enum Pushed {
    /// No local edits.
    Nothing,
    /// Committed at `gen` after `attempts` sends (1 = no conflict).
    Committed { gen: i64, seq: i64, attempts: u32, ops: usize },
}

/// The outcome of resending a journaled patch.
#[derive(Debug, Clone, PartialEq)]
pub enum Recovery {
    /// Committed, now or (`duplicate`) by the first send.
    Committed { seq: i64, gen: i64, duplicate: bool },
    /// Cleanly refused: it never applied.
    Refused { seq: i64, conflicts: Value },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Created,
    Updated,
    Moved,
    Deleted,
}

/// What a pull changed in the local tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub from: i64,
    pub to: i64,
    /// Node keys and how they changed (a key can be both moved and updated).
    pub changed: Vec<(String, ChangeKind)>,
    /// Local edits the rebase dropped.
    pub dropped: Vec<Dropped>,
}

/// Counters for the demo and for tests.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Committed pushes.
    pub commits: u64,
    /// 40001 answers.
    pub conflicts: u64,
    /// Rebases of local edits after a conflict.
    pub rebases: u64,
    /// Pulls that brought something new.
    pub pulls: u64,
    /// Dropped local edits (warnings such as `delete-over-server-edit` not counted).
    pub dropped: u64,
    /// Reads of the change log (`changes_since`) for text-aware rebases and cursors.
    pub log_fetches: u64,
    /// Committed pushes after which the replica knew the server's state without reading it:
    /// nobody else had committed in between and the patch changed nodes only in place (`text`,
    /// `update`; see [`crate::Workspace::committed_alone`]). The other commits read `diff_since`.
    pub known_commits: u64,
    /// Reads served by the read connection ([`Replica::read_from`]).
    pub reader_reads: u64,
    /// Reads that went to the write connection because the read connection had not replayed
    /// the gen this replica needs within `Config::read_wait`.
    pub reader_fallbacks: u64,
    /// Per committed push: time from push() to the commit, retries included (µs).
    pub latencies_us: Vec<u64>,
}
