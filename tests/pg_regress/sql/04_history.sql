--
-- 04 history: generations, time travel (snapshot at_gen), diffs, the change log, node history
-- and compaction.
--
\set SHOW_CONTEXT never
SELECT nodesync.create_doc('story');
-- gen 2..7: six commits by three clients (client and seq are optional, see 05_idempotency)
SELECT nodesync.apply_patch('story', '{"ops": [{"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"t": "once"}}, {"op": "create", "key": "b", "kind": "list", "parent": "root"}]}', 'alice', 1);
SELECT nodesync.apply_patch('story', '{"ops": [{"op": "update", "key": "a", "version": 1, "props": {"t": "once upon"}}]}', 'bob', 7);
SELECT nodesync.apply_patch('story', '{"ops": [{"op": "move", "key": "a", "version": 2, "parent": "b"}]}', 'alice', 2);
SELECT nodesync.apply_patch('story', '{"ops": [{"op": "update", "key": "a", "version": 3, "props": {"t": "once upon a time"}}, {"op": "create", "key": "c", "kind": "p", "parent": "root", "after": null}]}');
SELECT nodesync.apply_patch('story', '{"ops": [{"op": "delete", "key": "b", "version": 1}]}', 'bob', 8);
SELECT nodesync.apply_patch('story', '{"ops": [{"op": "update", "key": "c", "version": 1, "props": {"t": "the end"}}]}', 'carol', 1);

-- snapshot(doc, at_gen): the document as it was right after commit at_gen.
SELECT g AS at_gen, regress.outline('story', g) FROM generate_series(1, 7) g;
SELECT nodesync.snapshot('story', 4)->'gen' AS gen;
-- snapshot(doc) and snapshot(doc, current gen) are the same document
SELECT nodesync.snapshot('story') = nodesync.snapshot('story', 7) AS same;

-- diff_since(doc, n): what brings a reader from gen n to now: the current state of every node
-- changed after n, and every key deleted after n (each node of a deleted subtree).
-- (deleted keys are sorted here for a stable output; the diff lists them in no particular order)
CREATE FUNCTION regress.sorted(a jsonb) RETURNS jsonb LANGUAGE sql AS
  $$ SELECT coalesce(jsonb_agg(e ORDER BY e), '[]') FROM jsonb_array_elements(a) e $$;
SELECT d->'from' AS "from", d->'to' AS "to", d->'reset' AS reset, regress.sorted(d->'deleted') AS deleted
  FROM nodesync.diff_since('story', 3) d;
SELECT n.key, n.parent, n.pos IS NOT NULL AS has_pos, n.kind, n.props, n.version, n.gen
  FROM jsonb_to_recordset(nodesync.diff_since('story', 3)->'nodes')
       AS n(key text, parent text, pos text, kind text, props jsonb, version bigint, gen bigint)
 ORDER BY n.key;
-- nothing changed after the current gen
SELECT nodesync.diff_since('story', 7);
-- a diff from gen 0 holds every live node
SELECT jsonb_array_length(d->'nodes') AS nodes, regress.sorted(d->'deleted') AS deleted FROM nodesync.diff_since('story', 0) d;
-- Applying the diff to the state at n gives exactly the current state, for every n.
SELECT n AS since,
       (SELECT array_agg(k ORDER BY k) FROM (
          SELECT f.key || ' v' || f.version AS k FROM jsonb_path_query(nodesync.snapshot('story', greatest(n, 1)), 'strict $.** ? (@.type() == "object" && exists(@.kind))') x,
                 jsonb_to_record(x) AS f(key text, version bigint)
           WHERE n > 0
             AND f.key NOT IN (SELECT jsonb_array_elements_text(nodesync.diff_since('story', n)->'deleted'))
             AND f.key NOT IN (SELECT e->>'key' FROM jsonb_array_elements(nodesync.diff_since('story', n)->'nodes') e)
          UNION ALL
          SELECT (e->>'key') || ' v' || (e->>'version') FROM jsonb_array_elements(nodesync.diff_since('story', n)->'nodes') e) s)
       = (SELECT array_agg(key || ' v' || version ORDER BY key || ' v' || version) FROM nodesync.nodes('story')) AS diff_gives_now
  FROM generate_series(0, 7) n;

-- changes_since(doc, n): the change log after n, oldest first. Creating the document (gen 1)
-- is not a change.
SELECT gen, client, seq, patch, committed_at IS NOT NULL AS committed FROM nodesync.changes_since('story', 0);
SELECT gen FROM nodesync.changes_since('story', 5);

-- node_history(doc, key): a node's versions, oldest first; state is the node as in
-- diff_since. a was moved under b, so deleting b (gen 6) deleted a too: a null state.
SELECT version, gen, client, state - 'pos' AS state FROM nodesync.node_history('story', 'a');
SELECT version, gen, client, state IS NULL AS deleted FROM nodesync.node_history('story', 'b');
SELECT count(*) FROM nodesync.node_history('story', 'never-existed');

-- compact(doc, upto_gen) drops log and history at or below upto_gen and returns the new
-- horizon. A new document's horizon is 0.
SELECT horizon FROM nodesync.documents WHERE doc = 'story';
SELECT nodesync.compact('story', 4);
SELECT horizon FROM nodesync.documents WHERE doc = 'story';
-- At and above the horizon, history is intact.
SELECT g AS at_gen, regress.outline('story', g) FROM generate_series(4, 7) g;
SELECT gen, client, seq FROM nodesync.changes_since('story', 4);
SELECT version, gen, client, state IS NULL AS deleted FROM nodesync.node_history('story', 'a');
-- Below it: 55000 object_not_in_prerequisite_state for changes_since and snapshot(at_gen)...
SELECT * FROM nodesync.changes_since('story', 3);
\echo SQLSTATE :SQLSTATE
SELECT nodesync.snapshot('story', 3);
\echo SQLSTATE :SQLSTATE
-- ... and diff_since says "reset": true and lists every live node (no deleted keys): the
-- reader starts over from that.
SELECT d->'from' AS "from", d->'to' AS "to", d->'reset' AS reset, jsonb_array_length(d->'nodes') AS nodes, d->'deleted' AS deleted
  FROM nodesync.diff_since('story', 3) d;
SELECT d->'reset' AS reset, regress.sorted(d->'deleted') AS deleted FROM nodesync.diff_since('story', 4) d;

-- Compacting to the current gen keeps the current state; deleted keys stay reserved.
SELECT nodesync.compact('story', 7);
SELECT * FROM regress.outline('story', 7);
SELECT count(*) AS changes FROM nodesync.changes_since('story', 7);
SELECT nodesync.apply_patch('story', '{"ops": [{"op": "create", "key": "b", "kind": "p", "parent": "root"}]}');
-- Compacting below the horizon changes nothing (it returns the horizon, 7); beyond the
-- current gen is 22023.
SELECT nodesync.compact('story', 2);
SELECT nodesync.compact('story', 8);
\echo SQLSTATE :SQLSTATE
-- Writing goes on after compaction.
SELECT nodesync.apply_patch('story', '{"ops": [{"op": "update", "key": "c", "version": 2, "props": {"t": "the end?"}}]}');
SELECT gen, client FROM nodesync.changes_since('story', 7);
