//! pg_nodesync client: replicas of a document that edit locally, push patches, rebase on
//! conflict and converge, over ordinary `postgres` connections. See docs/client.md.
//!
//! - [`tree`]: the in-memory document (shadow and local tree), snapshots and diffs
//! - [`rebase`]: the pure part: local edits → one patch, and the rebase rules
//! - [`replica`]: [`Replica`]: local edits, push / pull / live, bounded retries
//! - [`journal`]: the durable retry journal

pub mod journal;
pub mod rebase;
pub mod sim;
pub mod replica;
pub mod tree;
pub mod workspace;

pub use nodesync_core::patch::{Place, ROOT};
pub use rebase::{Dropped, Policy, Rule};
pub use replica::{connect_env, ensure_doc, fetch_snapshot, ChangeKind, Changes, Config, EditError, Error, Pushed, Recovery, Replica, Stats};
pub use tree::{Node, Tree};
pub use workspace::Workspace;
