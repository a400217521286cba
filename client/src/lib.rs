//! pg_nodesync client: replicas of a document that edit locally, push patches, rebase on
//! conflict and converge, over ordinary `postgres` connections. See docs/client.md.
//!
//! - [`blocks`]: text edits, splits and joins as block ops, and their transform (the text rebase)
//! - [`tree`]: the in-memory document (shadow and local tree), snapshots and diffs
//! - [`rebase`]: the pure part: local edits → one patch, and the rebase rules
//! - [`workspace`]: [`Workspace`]: the local edit state (shadow, local tree, dirty keys), no I/O
//! - [`replica`]: [`Replica`]: a workspace over a connection: push / pull / live, bounded retries
//! - [`journal`]: the durable retry journal
//! - `sim` (feature `sim`): simulated editors and typists over the reference model (tests and
//!   `nodesync-demo`)

pub mod blocks;
pub mod journal;
pub mod rebase;
pub mod replica;
#[cfg(feature = "sim")]
pub mod sim;
pub mod tree;
pub mod workspace;

pub use nodesync_core::patch::{Place, ROOT};
pub use rebase::{Dropped, Policy, Rule};
pub use replica::{connect_env, ensure_doc, fetch_snapshot, ChangeKind, Changes, Config, EditError, Error, Pushed, Recovery, Replica, Stats};
pub use tree::{Node, Tree};
pub use workspace::{Cursor, Workspace};
