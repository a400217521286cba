// Random editing at state level: three editors on one document type words at word
// boundaries, press Enter and Backspace, bold ranges, drag blocks, and push/pull in random
// interleavings. At the end every editor equals snapshot(), nothing needed a re-render, no
// error was reported, every typed word is in the document exactly once, and every mark range
// fits its text. (A drag of a block that another editor joined away meanwhile is dropped with
// a notice: the only notice this mix may give.)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import { PgTransport } from "@pg-nodesync/client/pg";
import { docFromTree, schema } from "../src/index.js";
import { freshDb, startCluster, stopCluster } from "./helpers/cluster.js";
import { backspace, bold, caret, closeEd, enter, openEd, run, serverTree, settle, type, type Ed } from "./helpers/editor.js";

let cfg: pg.ClientConfig;
let admin: PgTransport;
const SEEDS = (process.env["NODESYNC_PM_FUZZ_SEEDS"] ?? "1,2,3,4,5").split(",").map(Number);
const STEPS = Number(process.env["NODESYNC_PM_FUZZ_STEPS"] ?? 40);

before(async () => {
  cfg = await freshDb(await startCluster(), "nodesync_pm_fuzz");
  admin = await PgTransport.connect({ ...cfg, max: 2 });
});
after(async () => {
  await admin.close();
  await stopCluster();
});

for (const seed of SEEDS) {
  test(`seed ${seed}: ${STEPS} random steps of 3 editors converge with every word`, async () => {
    let s = seed * 7919 + 1;
    const rnd = (k: number) => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return s % k;
    };
    const doc = `fuzz${seed}`;
    await admin.ensureDoc(doc);
    await admin.applyPatch(doc, { ops: ["alpha beta", "gamma delta", "epsilon"].map((t, i) => ({ op: "create", key: `p${i}`, kind: "paragraph", parent: "root", props: { text: t } })) }, "setup", 1);
    const eds: Ed[] = [];
    const errors: unknown[] = [];
    const log = !!process.env["NODESYNC_PM_FUZZ_LOG"];
    for (const n of ["f1", "f2", "f3"]) {
      const e = await openEd(cfg, doc, `${n}s${seed}`);
      e.binding.on("error", (x) => errors.push(x));
      if (log) e.replica.on("dropped", (d) => process.stderr.write(`${e.name} dropped ${JSON.stringify(d)}\n`));
      eds.push(e);
    }
    const words: string[] = [];
    try {
      for (let i = 0; i < STEPS; i++) {
        const e = eds[rnd(3)]!;
        const st = e.editor.state;
        const spots: [string, number][] = [];
        const blocks: [string, number][] = [];
        st.doc.descendants((node) => {
          if (node.isTextblock) {
            const cps = [...node.textContent];
            blocks.push([String(node.attrs["id"]), cps.length]);
            for (let p = 0; p <= cps.length; p++) if (p === 0 || p === cps.length || cps[p - 1] === " ") spots.push([String(node.attrs["id"]), p]);
          }
          return !node.isTextblock;
        });
        const action = rnd(10);
        if (process.env["NODESYNC_PM_FUZZ_LOG"]) process.stderr.write(`step ${i} ${e.name} action ${action}\n`);
        if (action < 5) {
          const [id, at] = spots[rnd(spots.length)]!;
          caret(e, id, at);
          const w = `w${seed}x${i}q`;
          words.push(w);
          type(e, ` ${w} `);
        } else if (action === 5) {
          const [id, at] = spots[rnd(spots.length)]!;
          caret(e, id, at);
          run(e, enter);
        } else if (action === 6 && blocks.length > 1) {
          // Backspace at the start of a block (not the first): a join
          const [id] = blocks[1 + rnd(blocks.length - 1)]!;
          caret(e, id, 0);
          run(e, backspace);
        } else if (action === 7) {
          const [id, len] = blocks[rnd(blocks.length)]!;
          if (len > 2) {
            const a = rnd(len - 1);
            caret(e, id, a, a + 1 + rnd(len - a - 1));
            run(e, bold);
          }
        } else if (action === 8 && st.doc.childCount > 1) {
          // drag a top-level block somewhere else
          const from = rnd(st.doc.childCount);
          let pos = 0;
          for (let k = 0; k < from; k++) pos += st.doc.child(k).nodeSize;
          const node = st.doc.child(from);
          const tr = st.tr.delete(pos, pos + node.nodeSize);
          const to = rnd(tr.doc.childCount + 1);
          let ins = 0;
          for (let k = 0; k < to; k++) ins += tr.doc.child(k).nodeSize;
          e.editor.dispatch(tr.insert(ins, node));
        }
        const sync = rnd(4);
        if (sync === 0) await e.binding.flush();
        else if (sync === 1) await eds[rnd(3)]!.replica.pull();
        else if (sync === 2) await eds[rnd(3)]!.binding.flush();
      }
      await settle(...eds);
      const server = await serverTree(admin, doc);
      const want = docFromTree(server, schema);
      for (const e of eds) {
        assert.ok(e.editor.state.doc.eq(want), `${e.name} differs from snapshot()`);
        assert.equal(e.binding.stats.heals, 0, `${e.name} re-rendered after a local edit`);
        // the only drop this mix can cause: dragging a block someone joined away meanwhile
        const rules = e.binding.notices.flatMap((n) => n.dropped.map((d) => d.rule.name));
        assert.ok(rules.every((r) => r === "edit-of-deleted"), `${e.name} got notices: ${rules.join(", ")}`);
      }
      assert.deepEqual(errors, []);
      const all = [...server.nodes.keyArray()].map((k) => String(server.get(k)!.props["text"] ?? "")).join("\n");
      for (const w of words) assert.equal(all.split(w).length - 1, 1, `${w} once (seed ${seed})`);
      // marks fit their texts
      for (const k of server.nodes.keyArray()) {
        const n = server.get(k)!;
        const len = [...String(n.props["text"] ?? "")].length;
        for (const m of (n.props["marks"] as [number, number, string][] | undefined) ?? []) assert.ok(m[0] < m[1] && m[1] <= len, `mark ${JSON.stringify(m)} in a text of ${len}`);
      }
    } finally {
      for (const e of eds) await closeEd(e);
    }
  });
}
