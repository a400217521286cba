--
-- 05 idempotency: a patch sent with (client, seq) is applied at most once per document, so a
-- client can resend it safely when it did not get the reply.
--
\set SHOW_CONTEXT never
SELECT nodesync.create_doc('todo');
SELECT nodesync.apply_patch('todo', '{"ops": [{"op": "create", "key": "milk", "kind": "item", "parent": "root"}]}');

-- The first send commits.
SELECT nodesync.apply_patch('todo', '{"ops": [{"op": "update", "key": "milk", "version": 1, "props": {"done": true}}]}', 'phone', 1);
-- The resend (same client and seq) is a duplicate: it changes nothing and returns the
-- original gen and versions with "duplicate": true.
SELECT nodesync.apply_patch('todo', '{"ops": [{"op": "update", "key": "milk", "version": 1, "props": {"done": true}}]}', 'phone', 1);
SELECT key, props, version, gen FROM nodesync.nodes('todo') WHERE key = 'milk';
SELECT gen, client, seq FROM nodesync.changes_since('todo', 0);

-- A client's seq values increase; gaps are allowed. Any seq at or below the client's last
-- committed one is a duplicate, whatever the patch says. (Here seq 4 was never sent: the
-- original result is unknown, so the current gen and empty versions come back.)
SELECT nodesync.apply_patch('todo', '{"ops": [{"op": "create", "key": "eggs", "kind": "item", "parent": "root"}]}', 'phone', 5);
SELECT nodesync.apply_patch('todo', '{"ops": [{"op": "create", "key": "bread", "kind": "item", "parent": "root"}]}', 'phone', 4);
SELECT nodesync.apply_patch('todo', '{"ops": [{"op": "create", "key": "bread", "kind": "item", "parent": "root"}]}', 'phone', 1);

-- Each client has its own seqs, and seqs are per document.
SELECT nodesync.apply_patch('todo', '{"ops": [{"op": "create", "key": "bread", "kind": "item", "parent": "root"}]}', 'laptop', 1);
SELECT nodesync.create_doc('todo2');
SELECT nodesync.apply_patch('todo2', '{"ops": [{"op": "update", "key": "root", "version": 1, "props": {"x": 1}}]}', 'phone', 1);

-- A refused patch does not use up its seq: the rebased retry with the same seq commits.
SELECT nodesync.apply_patch('todo', '{"ops": [{"op": "update", "key": "milk", "version": 1, "props": {"done": false}}]}', 'phone', 6);
\echo SQLSTATE :SQLSTATE
SELECT nodesync.apply_patch('todo', '{"ops": [{"op": "update", "key": "milk", "version": 2, "props": {"done": false}}]}', 'phone', 6);

-- try_apply_patch knows duplicates too.
SELECT nodesync.try_apply_patch('todo', '{"ops": [{"op": "update", "key": "milk", "version": 2, "props": {"done": false}}]}', 'phone', 6);

-- An empty patch commits nothing and records no seq: seq 8 stays free.
SELECT nodesync.apply_patch('todo', '{"ops": []}', 'phone', 9);
SELECT nodesync.apply_patch('todo', '{"ops": [{"op": "update", "key": "eggs", "version": 1, "props": {"n": 12}}]}', 'phone', 8);

-- The log shows each committed (client, seq) once.
SELECT gen, client, seq, patch->'ops'->0->>'op' AS first_op FROM nodesync.changes_since('todo', 0);

-- After compaction the original result of a compacted seq is gone, but the seq is still
-- known: a resend is a duplicate that returns the current gen and empty versions.
SELECT nodesync.compact('todo', 4);
SELECT nodesync.apply_patch('todo', '{"ops": [{"op": "update", "key": "milk", "version": 1, "props": {"done": true}}]}', 'phone', 1);
-- laptop's seq 1 (gen 5) and phone's seq 6 (gen 6) are above the horizon: their original
-- results are still known.
SELECT nodesync.apply_patch('todo', '{"ops": [{"op": "create", "key": "bread", "kind": "item", "parent": "root"}]}', 'laptop', 1);
SELECT nodesync.apply_patch('todo', '{"ops": []}', 'phone', 6);
SELECT nodesync.compact('todo', 7);
SELECT nodesync.apply_patch('todo', '{"ops": []}', 'phone', 8);
SELECT nodesync.apply_patch('todo', '{"ops": [{"op": "update", "key": "eggs", "version": 2, "props": {"n": 6}}]}', 'phone', 10);
SELECT nodesync.snapshot('todo')->'gen' AS gen;

-- seq without client is 22023 (client without seq is fine: no idempotency).
SELECT nodesync.apply_patch('todo', '{"ops": []}', NULL, 3);
\echo SQLSTATE :SQLSTATE
SELECT nodesync.apply_patch('todo', '{"ops": [{"op": "update", "key": "eggs", "version": 3, "props": {"n": 7}}]}', 'phone');
