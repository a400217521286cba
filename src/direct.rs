//! The commit of a one-node change written without the executor (`nodesync.direct_commit`).
//!
//! A keystroke's commit changes one tree row, appends one log row and bumps the document's
//! gen. As one SQL statement ([`crate::commit`]'s `ONE_CHANGE`) most of its cost is the
//! executor's start-up of three ModifyTables with their scans and projections (callgrind,
//! docs/performance.md). Here the same rows are written the way the logical-replication apply
//! worker writes them (`execReplication.c`): the rows found by primary key, the new versions
//! stored through the table's `tuple_update` (as `simple_table_tuple_update`) /
//! `simple_table_tuple_insert`, index entries added
//! with `ExecInsertIndexTuples` when the update was not HOT, the NOTIFY or logical message sent
//! through the same SQL-callable functions. The values are computed by the same functions the
//! SQL statement calls (`jsonb_in`, `jsonb_concat`, `jsonb_delete_array`, `jsonb_out` for the
//! size check), so both paths write the same rows (tests/tests/direct_commit.rs compares them).
//!
//! The engine's node reads (`Store::node`, the row of a key with its props) are primary-key
//! scans here too ([`node`]), for the same reason: an SPI statement's executor start-up for one
//! row.
//!
//! Only plain tables qualify: a table that is partitioned, has row triggers for the statement's
//! kind, CHECK constraints or forced row-level security, or a log whose JSON columns are not
//! `json` (a schema before 0.5.0), is written by the SQL statement ([`Tables::open`] says
//! `None`). The caller holds the document's row lock (commits of one document are serial) and
//! writes as the tables' owner, who bypasses RLS on them, as the SQL path does.

use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::{direct_function_call_as_datum, IntoDatum};

use nodesync_core::store::StoredNode;
use nodesync_core::{Error, Result};

/// What the commit writes: the changed node and the log row.
pub struct OneChange<'a> {
    pub doc_id: i64,
    pub gen: i64,
    /// The document's row already holds `gen` (`documents::claim`).
    pub claimed: bool,
    pub key: &'a str,
    /// A move: (parent, pos).
    pub place: Option<(&'a str, &'a str)>,
    pub kind: Option<&'a str>,
    /// The props delta as JSON text (`None`: props unchanged), and the keys it removes.
    pub delta: Option<&'a str>,
    pub removed: &'a [String],
    pub client: Option<&'a str>,
    pub seq: Option<i64>,
    pub patch: &'a str,
    pub versions: &'a str,
    pub undo: Option<&'a str>,
    /// The NOTIFY payload, the channel (also the message prefix), the logical message.
    pub notify: Option<&'a str>,
    pub channel: &'a str,
    pub message: Option<&'a str>,
}

/// Writes `c`. `Ok(None)`: the tables do not qualify, nothing was written (use the SQL path);
/// `Ok(Some(bytes))`: written, `bytes` the new props' jsonb text length (0 if unchanged).
pub fn one_change(c: &OneChange<'_>) -> Result<Option<usize>> {
    // SAFETY: every pointer below comes from Postgres (relations opened here, slots and scans
    // made for them) and is used while they are open; errors raised by Postgres become Rust
    // panics through pgrx's guarded calls and abort the transaction, as the SQL path's would.
    unsafe {
        let Some(t) = Tables::open() else { return Ok(None) };
        let r = write(&t, c);
        t.close();
        if r.is_ok() && pg_sys::message_level_is_interesting(pg_sys::DEBUG1 as i32) {
            pgrx::debug1!("nodesync: the commit of gen {} (node {:?}) was written without the executor", c.gen, c.key);
        }
        r.map(Some)
    }
}

/// The commit lock of `doc` taken by advancing its gen (`documents::claim` without the
/// executor): the row found through `documents_doc_key` and updated as `UPDATE
/// nodesync.documents SET gen = gen + 1 WHERE doc = $1` updates it under READ COMMITTED,
/// waiting for a concurrent writer of the row and retrying on the version it committed.
/// Returns (id, gen before, horizon, live nodes). `Ok(None)`: the table does not qualify, or
/// the transaction is REPEATABLE READ or SERIALIZABLE (whose snapshot rules the statement
/// keeps: 40001 for a row changed since), use the statement; `Ok(Some(None))`: no such
/// document.
pub fn claim(doc: &str) -> Result<Option<Option<[i64; 4]>>> {
    // SAFETY: as in [`one_change`]; the update goes through the table's access method, with
    // Postgres errors caught at the boundary
    unsafe {
        let Some(oid) = crate::sql::relation(c"documents") else { return Ok(None) };
        if pg_sys::XactIsoLevel >= pg_sys::XACT_REPEATABLE_READ as i32 {
            return Ok(None);
        }
        let rel = pg_sys::table_open(oid, ROW_EXCLUSIVE);
        let r = if plain(rel, Kind::Update) { claim_row(rel, doc).map(Some) } else { Ok(None) };
        pg_sys::table_close(rel, ROW_EXCLUSIVE);
        r
    }
}

unsafe fn claim_row(rel: pg_sys::Relation, doc: &str) -> Result<Option<[i64; 4]>> {
    let at = |name: &CStr| col(rel, name).map(|i| i - 1);
    let (id_at, gen_at, horizon_at, live_at) = (at(c"id")?, at(c"gen")?, at(c"horizon")?, at(c"live_nodes")?);
    loop {
        let snapshot = pg_sys::RegisterSnapshot(pg_sys::GetLatestSnapshot());
        let found = by_key(rel, c"documents_doc_key", &[(text(doc), pg_sys::F_TEXTEQ)], snapshot);
        let old = match found {
            Ok(Some(old)) => old,
            other => {
                pg_sys::UnregisterSnapshot(snapshot);
                return other.map(|_| None);
            }
        };
        let (mut values, nulls) = values_of(old);
        let row = [id_at, gen_at, horizon_at, live_at].map(|i| values[i].value() as i64);
        values[gen_at] = pg_sys::Datum::from(row[1] + 1);
        let result = store(rel, old, &values, &nulls, snapshot);
        pg_sys::UnregisterSnapshot(snapshot);
        match result? {
            pg_sys::TM_Result::TM_Ok => {
                // later statements of this transaction see the new gen
                pg_sys::CommandCounterIncrement();
                return Ok(Some(row));
            }
            // it committed meanwhile: read its version (or find the document gone)
            pg_sys::TM_Result::TM_Updated | pg_sys::TM_Result::TM_Deleted => continue,
            other => return Err(Error::Internal(format!("the document row of {doc:?} could not be updated (TM_Result {other})"))),
        }
    }
}

thread_local! {
    /// Where [`node`] last found a row: (doc_id, key, tid). The commit that follows the read
    /// under the document's lock updates that row ([`read_again`]), without a second descent
    /// of the primary key.
    static READ: std::cell::RefCell<Option<(i64, String, pg_sys::ItemPointerData)>> = const { std::cell::RefCell::new(None) };
}

/// The row of (`doc_id`, `key`) fetched at the tid [`node`] last read it at, if that read was
/// of this row and the tid still holds its visible version (no commit of this transaction
/// updated it since: its new version is elsewhere, and the old one no longer visible); checked
/// by its key columns too, so a tid from another transaction is never trusted. `None`: look
/// it up by key.
unsafe fn read_again(rel: pg_sys::Relation, doc_id: i64, key: &str, snapshot: pg_sys::Snapshot) -> Result<Option<*mut pg_sys::TupleTableSlot>> {
    let Some(mut tid) = READ.with(|r| match r.borrow_mut().take() {
        Some((d, k, tid)) if d == doc_id && k == key => Some(tid),
        _ => None,
    }) else {
        return Ok(None);
    };
    let Some(fetch) = (*(*rel).rd_tableam).tuple_fetch_row_version else { return Ok(None) };
    let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
    let found = pg_sys::ffi::pg_guard_ffi_boundary(|| fetch(rel, &mut tid, snapshot, slot));
    if found {
        let (doc_at, key_at) = (col(rel, c"doc_id")? - 1, col(rel, c"key")? - 1);
        pg_sys::slot_getallattrs(slot);
        let (values, nulls) = ((*slot).tts_values, (*slot).tts_isnull);
        let same = !*nulls.add(doc_at)
            && !*nulls.add(key_at)
            && (*values.add(doc_at)).value() as i64 == doc_id
            && <String as pgrx::FromDatum>::from_datum(*values.add(key_at), false).as_deref() == Some(key);
        if same {
            return Ok(Some(slot));
        }
    }
    pg_sys::ExecDropSingleTupleTableSlot(slot);
    Ok(None)
}

/// A node row read by [`node`]: the node and its props as jsonb text (`None` for tombstones).
pub struct NodeRow {
    pub node: StoredNode,
    pub props: Option<String>,
}

/// The row of `key` in document `doc_id`, read by primary key without the executor, as the
/// SPI statement `SELECT key, parent, pos::text, kind, version, gen, deleted, props::text ...`
/// reads it. `Ok(None)`: the tree does not qualify (partitioned, or forced RLS), use the SQL
/// path; `Ok(Some(None))`: no such row.
pub fn node(doc_id: i64, key: &str) -> Result<Option<Option<NodeRow>>> {
    // SAFETY: as in [`one_change`]: the relation is opened here and closed before returning,
    // the slot and scan are made for it, and Postgres errors abort the transaction.
    unsafe {
        let Some(oid) = crate::sql::relation(c"tree") else { return Ok(None) };
        let rel = pg_sys::table_open(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let r = if !readable(rel) {
            Ok(None)
        } else {
            let snapshot = pg_sys::RegisterSnapshot(pg_sys::GetLatestSnapshot());
            let r = read_node(rel, doc_id, key, snapshot);
            pg_sys::UnregisterSnapshot(snapshot);
            r.map(Some)
        };
        pg_sys::table_close(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        r
    }
}

unsafe fn read_node(rel: pg_sys::Relation, doc_id: i64, key: &str, snapshot: pg_sys::Snapshot) -> Result<Option<NodeRow>> {
    let Some(slot) = by_key(rel, c"tree_pkey", &[(pg_sys::Datum::from(doc_id), pg_sys::F_INT8EQ), (text(key), pg_sys::F_TEXTEQ)], snapshot)? else {
        return Ok(None);
    };
    READ.with(|r| *r.borrow_mut() = Some((doc_id, key.to_string(), (*slot).tts_tid)));
    let (values, nulls) = values_of(slot);
    let get = |name: &CStr| -> Result<(pg_sys::Datum, bool)> {
        let i = col(rel, name)? - 1;
        Ok((values[i], nulls[i]))
    };
    let string = |name: &CStr| -> Result<Option<String>> {
        let (d, null) = get(name)?;
        Ok(<String as pgrx::FromDatum>::from_datum(d, null))
    };
    let int = |name: &CStr| -> Result<i64> {
        match get(name)? {
            (d, false) => Ok(d.value() as i64),
            _ => Err(Error::Internal(format!("NULL {name:?} in the row of {key:?}"))),
        }
    };
    let (props, null) = get(c"props")?;
    let props = if null {
        None
    } else {
        let out = call(pg_sys::jsonb_out, &[Some(props)], "jsonb_out")?;
        Some(CStr::from_ptr(out.cast_mut_ptr::<std::ffi::c_char>()).to_string_lossy().into_owned())
    };
    let (deleted, dnull) = get(c"deleted")?;
    let node = StoredNode {
        key: string(c"key")?.ok_or_else(|| Error::Internal("a NULL key".into()))?,
        parent: string(c"parent")?,
        pos: string(c"pos")?,
        kind: string(c"kind")?.ok_or_else(|| Error::Internal(format!("a NULL kind in the row of {key:?}")))?,
        version: int(c"version")?,
        gen: int(c"gen")?,
        deleted: !dnull && deleted.value() != 0,
    };
    pg_sys::ExecDropSingleTupleTableSlot(slot);
    Ok(Some(NodeRow { node, props }))
}

/// The three relations, opened for writing, if they qualify.
struct Tables {
    tree: pg_sys::Relation,
    change: pg_sys::Relation,
    documents: pg_sys::Relation,
}

const ROW_EXCLUSIVE: pg_sys::LOCKMODE = pg_sys::RowExclusiveLock as pg_sys::LOCKMODE;

impl Tables {
    unsafe fn open() -> Option<Tables> {
        let (tree, change, documents) = (crate::sql::relation(c"tree")?, crate::sql::relation(c"change")?, crate::sql::relation(c"documents")?);
        let t = Tables {
            tree: pg_sys::table_open(tree, ROW_EXCLUSIVE),
            change: pg_sys::table_open(change, ROW_EXCLUSIVE),
            documents: pg_sys::table_open(documents, ROW_EXCLUSIVE),
        };
        let ok = plain(t.tree, Kind::Update)
            && plain(t.change, Kind::Insert)
            && plain(t.documents, Kind::Update)
            && [c"patch", c"versions", c"undo"].iter().all(|c| column_type(t.change, c) == Some(pg_sys::JSONOID));
        if ok {
            Some(t)
        } else {
            t.close();
            None
        }
    }

    unsafe fn close(self) {
        for r in [self.tree, self.change, self.documents] {
            pg_sys::table_close(r, ROW_EXCLUSIVE);
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Insert,
    Update,
}

/// A table the owner reads as its rows are: not partitioned, no forced RLS.
unsafe fn readable(rel: pg_sys::Relation) -> bool {
    let form = &*(*rel).rd_rel;
    form.relkind == pg_sys::RELKIND_RELATION as i8 && !form.relforcerowsecurity
}

/// A plain table: [`readable`], no CHECK constraints, no row triggers (and no statement
/// triggers) for `kind`.
unsafe fn plain(rel: pg_sys::Relation, kind: Kind) -> bool {
    if !readable(rel) {
        return false;
    }
    let constr = (*(*rel).rd_att).constr;
    if !constr.is_null() && ((*constr).num_check > 0 || (*constr).has_generated_stored) {
        return false;
    }
    let td = (*rel).trigdesc;
    if td.is_null() {
        return true;
    }
    let td = &*td;
    match kind {
        Kind::Insert => !(td.trig_insert_before_row || td.trig_insert_after_row || td.trig_insert_instead_row || td.trig_insert_before_statement || td.trig_insert_after_statement || td.trig_insert_new_table),
        Kind::Update => !(td.trig_update_before_row || td.trig_update_after_row || td.trig_update_instead_row || td.trig_update_before_statement || td.trig_update_after_statement || td.trig_update_old_table || td.trig_update_new_table),
    }
}

/// The attribute number of column `name`, if the table has it.
/// From the relation's tuple descriptor (no catalog lookup: a dozen of these per commit).
unsafe fn attnum(rel: pg_sys::Relation, name: &CStr) -> Option<usize> {
    let desc = (*rel).rd_att;
    let n = (*desc).natts as usize;
    let name = name.to_bytes();
    (*desc).attrs.as_slice(n).iter().position(|a| !a.attisdropped && CStr::from_ptr(a.attname.data.as_ptr()).to_bytes() == name).map(|i| i + 1)
}

unsafe fn column_type(rel: pg_sys::Relation, name: &CStr) -> Option<pg_sys::Oid> {
    let n = attnum(rel, name)?;
    let att = (*(*rel).rd_att).attrs.as_slice(n).get(n - 1)?;
    Some(att.atttypid)
}

/// Column `name` of `rel`, or an internal error naming it.
unsafe fn col(rel: pg_sys::Relation, name: &CStr) -> Result<usize> {
    attnum(rel, name).ok_or_else(|| Error::Internal(format!("no column {name:?} in {:?}", rel_name(rel))))
}

unsafe fn rel_name(rel: pg_sys::Relation) -> String {
    CStr::from_ptr((*(*rel).rd_rel).relname.data.as_ptr()).to_string_lossy().into_owned()
}

/// The slot's values and nulls as vectors (every attribute), for building the new row.
unsafe fn values_of(slot: *mut pg_sys::TupleTableSlot) -> (Vec<pg_sys::Datum>, Vec<bool>) {
    pg_sys::slot_getallattrs(slot);
    let n = (*(*slot).tts_tupleDescriptor).natts as usize;
    (std::slice::from_raw_parts((*slot).tts_values, n).to_vec(), std::slice::from_raw_parts((*slot).tts_isnull, n).to_vec())
}

/// A virtual slot of `rel` holding `values`.
unsafe fn virtual_row(rel: pg_sys::Relation, values: &[pg_sys::Datum], nulls: &[bool]) -> *mut pg_sys::TupleTableSlot {
    let slot = pg_sys::MakeSingleTupleTableSlot((*rel).rd_att, &pg_sys::TTSOpsVirtual);
    pg_sys::ExecClearTuple(slot);
    let n = values.len();
    std::ptr::copy_nonoverlapping(values.as_ptr(), (*slot).tts_values, n);
    std::ptr::copy_nonoverlapping(nulls.as_ptr(), (*slot).tts_isnull, n);
    pg_sys::ExecStoreVirtualTuple(slot);
    slot
}

/// The row of `rel` whose primary key (`index`) equals `keys` (datum, equality proc), read
/// into a new slot with the latest snapshot; `None` if there is none.
unsafe fn by_key(rel: pg_sys::Relation, index: &CStr, keys: &[(pg_sys::Datum, u32)], snapshot: pg_sys::Snapshot) -> Result<Option<*mut pg_sys::TupleTableSlot>> {
    let idx_oid = crate::sql::relation(index).ok_or_else(|| Error::Internal(format!("no index nodesync.{index:?}")))?;
    let idx = pg_sys::index_open(idx_oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
    let mut sk: Vec<pg_sys::ScanKeyData> = vec![std::mem::zeroed(); keys.len()];
    for (i, (d, proc_)) in keys.iter().enumerate() {
        // the index's own collation for each column (text equality under the column's collation)
        let coll = *(*idx).rd_indcollation.add(i);
        pg_sys::ScanKeyEntryInitialize(&mut sk[i], 0, (i + 1) as pg_sys::AttrNumber, pg_sys::BTEqualStrategyNumber as u16, pg_sys::InvalidOid, coll, pg_sys::Oid::from(*proc_), *d);
    }
    let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
    let scan = pg_sys::index_beginscan(rel, idx, snapshot, keys.len() as i32, 0);
    pg_sys::index_rescan(scan, sk.as_mut_ptr(), keys.len() as i32, std::ptr::null_mut(), 0);
    let found = pg_sys::index_getnext_slot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot);
    pg_sys::index_endscan(scan);
    pg_sys::index_close(idx, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
    if found {
        Ok(Some(slot))
    } else {
        pg_sys::ExecDropSingleTupleTableSlot(slot);
        Ok(None)
    }
}

/// Index maintenance for rows written into `rel` (as the executor's result relation).
struct Indexes {
    estate: *mut pg_sys::EState,
    rri: *mut pg_sys::ResultRelInfo,
}

impl Indexes {
    unsafe fn open(rel: pg_sys::Relation) -> Indexes {
        let estate = pg_sys::CreateExecutorState();
        let rri = pg_sys::palloc0(std::mem::size_of::<pg_sys::ResultRelInfo>()) as *mut pg_sys::ResultRelInfo;
        pg_sys::InitResultRelInfo(rri, rel, 0, std::ptr::null_mut(), 0);
        pg_sys::ExecOpenIndices(rri, false);
        Indexes { estate, rri }
    }

    /// The index entries of the row in `slot` (its tid set by the insert or update).
    unsafe fn insert(&self, slot: *mut pg_sys::TupleTableSlot) {
        if (*self.rri).ri_NumIndices > 0 {
            pg_sys::ExecInsertIndexTuples(self.rri, slot, self.estate, false, false, std::ptr::null_mut(), std::ptr::null_mut());
        }
    }

    unsafe fn close(self) {
        pg_sys::ExecCloseIndices(self.rri);
        pg_sys::FreeExecutorState(self.estate);
    }
}

/// Stores `values`/`nulls` over the row in `old` (a slot of [`by_key`], dropped here) through
/// the table's access method, as `simple_table_tuple_update` does (waiting for a concurrent
/// writer of the row), with index entries unless it was a HOT update. The outcome: `TM_Ok`, or
/// why nothing was stored (`TM_Updated`, `TM_Deleted`: another transaction got there first).
unsafe fn store(rel: pg_sys::Relation, old: *mut pg_sys::TupleTableSlot, values: &[pg_sys::Datum], nulls: &[bool], snapshot: pg_sys::Snapshot) -> Result<pg_sys::TM_Result::Type> {
    let tuple_update = (*(*rel).rd_tableam).tuple_update.ok_or_else(|| Error::Internal(format!("{} has no tuple_update", rel_name(rel))))?;
    let new = virtual_row(rel, values, nulls);
    let mut tmfd: pg_sys::TM_FailureData = std::mem::zeroed();
    let mut lockmode: pg_sys::LockTupleMode::Type = 0;
    let mut update_indexes = false;
    let cid = pg_sys::GetCurrentCommandId(true);
    let result = pg_sys::ffi::pg_guard_ffi_boundary(|| {
        tuple_update(rel, &mut (*old).tts_tid, new, cid, snapshot, std::ptr::null_mut(), true, &mut tmfd, &mut lockmode, &mut update_indexes)
    });
    if result == pg_sys::TM_Result::TM_Ok && update_indexes {
        index_entries(rel, new);
    }
    pg_sys::ExecDropSingleTupleTableSlot(new);
    pg_sys::ExecDropSingleTupleTableSlot(old);
    Ok(result)
}

/// [`store`] over a row whose lock this transaction holds: anything but `TM_Ok` is an
/// internal error.
unsafe fn update(rel: pg_sys::Relation, old: *mut pg_sys::TupleTableSlot, values: &[pg_sys::Datum], nulls: &[bool], snapshot: pg_sys::Snapshot) -> Result<()> {
    match store(rel, old, values, nulls, snapshot)? {
        pg_sys::TM_Result::TM_Ok => Ok(()),
        other => Err(Error::Internal(format!("a locked row of {} was changed by another transaction (TM_Result {other})", rel_name(rel)))),
    }
}

/// The index entries of the row just stored from `slot` into `rel`.
unsafe fn index_entries(rel: pg_sys::Relation, slot: *mut pg_sys::TupleTableSlot) {
    let ix = Indexes::open(rel);
    ix.insert(slot);
    ix.close();
}

fn text(s: &str) -> pg_sys::Datum {
    s.into_datum().unwrap_or(pg_sys::Datum::from(0))
}

unsafe fn call(f: unsafe fn(pg_sys::FunctionCallInfo) -> pg_sys::Datum, args: &[Option<pg_sys::Datum>], what: &str) -> Result<pg_sys::Datum> {
    direct_function_call_as_datum(f, args).ok_or_else(|| Error::Internal(format!("{what} returned NULL")))
}

unsafe fn write(t: &Tables, c: &OneChange<'_>) -> Result<usize> {
    let snapshot = pg_sys::RegisterSnapshot(pg_sys::GetLatestSnapshot());
    let r = write_rows(t, c, snapshot);
    pg_sys::UnregisterSnapshot(snapshot);
    // later statements of this transaction see the rows
    pg_sys::CommandCounterIncrement();
    r
}

unsafe fn write_rows(t: &Tables, c: &OneChange<'_>, snapshot: pg_sys::Snapshot) -> Result<usize> {
    let doc_id = pg_sys::Datum::from(c.doc_id);
    // the node's row: where the engine's read found it, else by primary key
    let old = match read_again(t.tree, c.doc_id, c.key, snapshot)? {
        Some(old) => old,
        None => by_key(t.tree, c"tree_pkey", &[(doc_id, pg_sys::F_INT8EQ), (text(c.key), pg_sys::F_TEXTEQ)], snapshot)?
            .ok_or_else(|| Error::Internal(format!("node {:?} of document {} vanished under the document's lock", c.key, c.doc_id)))?,
    };
    let (mut values, mut nulls) = values_of(old);
    let at = |name: &CStr| col(t.tree, name);
    let (props_at, version_at, gen_at) = (at(c"props")?, at(c"version")?, at(c"gen")?);
    let mut bytes = 0;
    if let Some(delta) = c.delta {
        if nulls[props_at - 1] {
            return Err(Error::Internal(format!("node {:?} has no props", c.key)));
        }
        let cdelta = std::ffi::CString::new(delta).map_err(|_| Error::Internal("a props delta with a NUL byte".into()))?;
        let d = call(pg_sys::jsonb_in, &[Some(pg_sys::Datum::from(cdelta.as_ptr()))], "jsonb_in")?;
        let mut p = call(pg_sys::jsonb_concat, &[Some(values[props_at - 1]), Some(d)], "jsonb_concat")?;
        if !c.removed.is_empty() {
            let keys = c.removed.to_vec().into_datum().ok_or_else(|| Error::Internal("the removed keys as text[]".into()))?;
            p = call(pg_sys::jsonb_delete_array, &[Some(p), Some(keys)], "jsonb_delete_array")?;
        }
        let out = call(pg_sys::jsonb_out, &[Some(p)], "jsonb_out")?;
        bytes = CStr::from_ptr(out.cast_mut_ptr::<std::ffi::c_char>()).to_bytes().len();
        values[props_at - 1] = p;
    }
    if let Some(kind) = c.kind {
        values[at(c"kind")? - 1] = text(kind);
    }
    if let Some((parent, pos)) = c.place {
        let (parent_at, pos_at) = (at(c"parent")?, at(c"pos")?);
        (values[parent_at - 1], nulls[parent_at - 1]) = (text(parent), false);
        (values[pos_at - 1], nulls[pos_at - 1]) = (text(pos), false);
    }
    let version = values[version_at - 1].value() as i64;
    values[version_at - 1] = pg_sys::Datum::from(version + 1);
    values[gen_at - 1] = pg_sys::Datum::from(c.gen);
    update(t.tree, old, &values, &nulls, snapshot)?;

    // the log row
    let natts = (*(*t.change).rd_att).natts as usize;
    let (mut values, mut nulls) = (vec![pg_sys::Datum::from(0); natts], vec![true; natts]);
    let mut set = |name: &CStr, v: Option<pg_sys::Datum>| -> Result<()> {
        let i = col(t.change, name)? - 1;
        if let Some(v) = v {
            (values[i], nulls[i]) = (v, false);
        }
        Ok(())
    };
    set(c"doc_id", Some(doc_id))?;
    set(c"gen", Some(pg_sys::Datum::from(c.gen)))?;
    set(c"client", c.client.map(text))?;
    set(c"seq", c.seq.map(pg_sys::Datum::from))?;
    set(c"patch", Some(text(c.patch)))?;
    set(c"versions", Some(text(c.versions)))?;
    set(c"committed_at", Some(pg_sys::Datum::from(pg_sys::GetCurrentTimestamp())))?;
    set(c"undo", c.undo.map(text))?;
    let row = virtual_row(t.change, &values, &nulls);
    pg_sys::simple_table_tuple_insert(t.change, row);
    index_entries(t.change, row);
    pg_sys::ExecDropSingleTupleTableSlot(row);

    // the document's gen (its row is locked by this transaction), unless the lock set it
    if !c.claimed {
        let old = by_key(t.documents, c"documents_pkey", &[(doc_id, pg_sys::F_INT8EQ)], snapshot)?
            .ok_or_else(|| Error::Internal(format!("document {} vanished under its lock", c.doc_id)))?;
        let (mut values, nulls) = values_of(old);
        values[col(t.documents, c"gen")? - 1] = pg_sys::Datum::from(c.gen);
        update(t.documents, old, &values, &nulls, snapshot)?;
    }

    // the push, as the SQL statement sends it
    if let Some(p) = c.notify {
        call(pg_sys::pg_notify, &[Some(text(c.channel)), Some(text(p))], "pg_notify").ok();
    }
    if let Some(m) = c.message {
        call(pg_sys::pg_logical_emit_message_text, &[Some(pg_sys::Datum::from(true)), Some(text(c.channel)), Some(text(m))], "pg_logical_emit_message")?;
    }
    Ok(bytes)
}
