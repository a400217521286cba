//! The `nodesync.*` settings (GUCs). Every limit is user-settable (`SET nodesync.x = ...`), so a
//! role or a session can be given more or less room; exceeding one is 22023 naming the GUC.

use std::ffi::CString;

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::{pg_sys, PostgresGucEnum};

use nodesync_core::Limits;

/// `nodesync.max_ops_per_patch`
pub static MAX_OPS_PER_PATCH: GucSetting<i32> = GucSetting::<i32>::new(10_000);
/// `nodesync.max_props_bytes`
pub static MAX_PROPS_BYTES: GucSetting<i32> = GucSetting::<i32>::new(1 << 20);
/// `nodesync.max_key_bytes`
pub static MAX_KEY_BYTES: GucSetting<i32> = GucSetting::<i32>::new(200);
/// `nodesync.max_depth`
pub static MAX_DEPTH: GucSetting<i32> = GucSetting::<i32>::new(1_000);
/// `nodesync.max_nodes`
pub static MAX_NODES: GucSetting<i32> = GucSetting::<i32>::new(10_000_000);
/// `nodesync.notify`
pub static NOTIFY: GucSetting<bool> = GucSetting::<bool>::new(true);
/// `nodesync.direct_commit`
pub static DIRECT_COMMIT: GucSetting<bool> = GucSetting::<bool>::new(true);
/// `nodesync.push`
pub static PUSH: GucSetting<Push> = GucSetting::<Push>::new(Push::Notify);
/// `nodesync.notify_channel`
pub static NOTIFY_CHANNEL: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"nodesync"));

/// How a commit (and a drop) tells readers: `nodesync.push`.
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Push {
    /// `pg_notify(channel, payload)`, delivered at commit (LISTEN).
    #[name = c"notify"]
    Notify,
    /// `pg_logical_emit_message(true, channel, payload)`: a transactional message in the WAL,
    /// read from a logical replication slot; takes no lock at commit.
    #[name = c"message"]
    Message,
    /// Both (while readers move from LISTEN to a slot).
    #[name = c"both"]
    Both,
    /// Neither.
    #[name = c"off"]
    Off,
}

/// The payload of a push as a NOTIFY and as a logical message, each `None` if
/// `nodesync.notify` and `nodesync.push` say it is not sent, and the channel (also the
/// message prefix; empty if nothing is sent).
pub fn pushes(payload: impl FnOnce() -> String) -> nodesync_core::Result<(Option<String>, Option<String>, String)> {
    let (notify, message) = match PUSH.get() {
        _ if !NOTIFY.get() => (false, false),
        Push::Notify => (true, false),
        Push::Message => (false, true),
        Push::Both => (true, true),
        Push::Off => (false, false),
    };
    if !notify && !message {
        return Ok((None, None, String::new()));
    }
    let channel = notify_channel()?;
    let p = payload();
    Ok((notify.then(|| p.clone()), message.then_some(p), channel))
}

pub fn init() {
    GucRegistry::define_int_guc(
        c"nodesync.max_ops_per_patch",
        c"Most ops one patch may carry.",
        c"A patch with more ops is refused with SQLSTATE 22023.",
        &MAX_OPS_PER_PATCH,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::empty(),
    );
    GucRegistry::define_int_guc(
        c"nodesync.max_props_bytes",
        c"Largest props object of one node, in bytes of JSON text.",
        c"Checked on each op's props and on each node's props after the patch; exceeding it is SQLSTATE 22023.",
        &MAX_PROPS_BYTES,
        2,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_BYTE,
    );
    GucRegistry::define_int_guc(
        c"nodesync.max_key_bytes",
        c"Longest key of a created node, in bytes (at most 200).",
        c"A create with a longer key is refused with SQLSTATE 22023.",
        &MAX_KEY_BYTES,
        1,
        200,
        GucContext::Userset,
        GucFlags::UNIT_BYTE,
    );
    GucRegistry::define_int_guc(
        c"nodesync.max_depth",
        c"Deepest a node may be (the root is at depth 0).",
        c"A create or move that would put a node deeper is refused with SQLSTATE 22023.",
        &MAX_DEPTH,
        1,
        i32::MAX,
        GucContext::Userset,
        GucFlags::empty(),
    );
    GucRegistry::define_int_guc(
        c"nodesync.max_nodes",
        c"Most live nodes one document may have (the root counts).",
        c"A patch that would leave more live nodes is refused with SQLSTATE 22023.",
        &MAX_NODES,
        1,
        i32::MAX,
        GucContext::Userset,
        GucFlags::empty(),
    );
    GucRegistry::define_bool_guc(
        c"nodesync.notify",
        c"Send NOTIFY nodesync at commit for every committed patch.",
        c"Payload: {\"doc\": <id>, \"gen\": <gen>}; no document content.",
        &NOTIFY,
        GucContext::Userset,
        GucFlags::empty(),
    );
    GucRegistry::define_bool_guc(
        c"nodesync.direct_commit",
        c"Write a commit that changes one node without the executor.",
        c"On (the default): the tree row, the log row and the document's gen are written with heap updates and inserts, as the logical-replication apply worker does; tables with triggers, CHECK constraints, forced RLS or partitions always take the SQL statement. Off: always the SQL statement. Both write the same rows; see docs/performance.md.",
        &DIRECT_COMMIT,
        GucContext::Userset,
        GucFlags::empty(),
    );
    GucRegistry::define_enum_guc(
        c"nodesync.push",
        c"How commits and drops are announced: notify, message, both or off.",
        c"notify: pg_notify on nodesync.notify_channel (LISTEN); message: a transactional pg_logical_emit_message with that prefix, read from a logical replication slot (wal_level = logical), no lock at commit; both; off. nodesync.notify = off turns both off. See docs/scaling.md.",
        &PUSH,
        GucContext::Userset,
        GucFlags::empty(),
    );
    GucRegistry::define_string_guc(
        c"nodesync.notify_channel",
        c"The channel that commits and drops are notified on.",
        c"Default nodesync. One channel per tenant (set per role or per transaction) keeps tenants from hearing each other's document ids; see docs/security.md.",
        &NOTIFY_CHANNEL,
        GucContext::Userset,
        GucFlags::empty(),
    );
    unsafe {
        // SAFETY: called once from _PG_init
        pg_sys::MarkGUCPrefixReserved(c"nodesync".as_ptr());
    }
}

pub fn limits() -> Limits {
    Limits {
        max_ops: MAX_OPS_PER_PATCH.get().max(0) as usize,
        max_props_bytes: MAX_PROPS_BYTES.get().max(0) as usize,
        max_key_bytes: MAX_KEY_BYTES.get().max(1) as usize,
        max_depth: MAX_DEPTH.get().max(1) as usize,
        max_nodes: MAX_NODES.get().max(0) as usize,
    }
}

/// The longest channel name `pg_notify` accepts (NAMEDATALEN - 1).
const MAX_CHANNEL_BYTES: usize = 63;

/// `nodesync.notify_channel`, checked: 22023 naming the setting if it is empty or too long.
pub fn notify_channel() -> nodesync_core::Result<String> {
    let bad = |why: String| {
        nodesync_core::Error::InvalidArgument(format!(
            "nodesync.notify_channel {why}: set it to a channel name of 1 to {MAX_CHANNEL_BYTES} bytes, or turn nodesync.notify off"
        ))
    };
    let v = NOTIFY_CHANNEL.get().map(|c| c.to_string_lossy().into_owned()).unwrap_or_default();
    if v.is_empty() {
        return Err(bad("is empty".into()));
    }
    if v.len() > MAX_CHANNEL_BYTES {
        return Err(bad(format!("is {} bytes long", v.len())));
    }
    Ok(v)
}
