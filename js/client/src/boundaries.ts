// Where a lone insert or delete of a text diff is best placed (mirrors core/src/ot.rs
// `boundary_score` and `slide_to_boundaries`): an edit with kept text on both sides can often
// slide left or right and still spell the same texts; ot.ts `diff` slides each to the boundary
// that diff-match-patch's semantic score likes best (a blank line, a line break, the end of a
// sentence, whitespace, punctuation) so that it covers whole words. Code points as strings.

const ALNUM = /^[\p{Alphabetic}\p{Nd}\p{Nl}\p{No}]$/u;
const WHITE = /^\p{White_Space}$/u;

function isAlphanumeric(c: string): boolean {
  return ALNUM.test(c);
}

function isWhitespace(c: string): boolean {
  return WHITE.test(c);
}

/**
 * How good a place the boundary between `s[lo..mid]` (left) and `s[mid..hi]` (right) is for an
 * edit to start or end (diff-match-patch's semantic score): 6 at the ends, 5 a blank line, 4 a
 * line break, 3 the end of a sentence, 2 whitespace, 1 other punctuation, 0 inside a word.
 */
function boundaryScore(s: readonly string[], lo: number, mid: number, hi: number): number {
  if (mid === lo || mid === hi) return 6;
  const a = s[mid - 1]!;
  const b = s[mid]!;
  const na = !isAlphanumeric(a);
  const nb = !isAlphanumeric(b);
  const wa = na && isWhitespace(a);
  const wb = nb && isWhitespace(b);
  const la = wa && (a === "\n" || a === "\r");
  const lb = wb && (b === "\n" || b === "\r");
  const blankA = la && mid - lo >= 2 && s[mid - 2] === "\n";
  const blankB = lb && hi - mid >= 2 && s[mid + 1] === "\n";
  if (blankA || blankB) return 5;
  if (la || lb) return 4;
  if (na && !wa && wb) return 3;
  if (wa || wb) return 2;
  if (na || nb) return 1;
  return 0;
}

/** One run of a diff in code points: kept, deleted or inserted. */
export interface Run {
  kind: "eq" | "del" | "ins";
  c: string[];
}

/**
 * Slides each lone insert or delete (kept text on both sides) to the best-scoring word
 * boundary. Lossless: the runs spell the same old and new texts afterwards. (Rust moves code
 * points between three vectors; sliding is a window moving over their concatenation, which
 * stays the same, so this works on the concatenation and the window's start.)
 */
export function slideToBoundaries(runs: Run[]): void {
  for (let i = 1; i < Math.max(runs.length - 1, 0); i++) {
    const lr = runs[i - 1]!;
    const er = runs[i]!;
    const rr = runs[i + 1]!;
    if (lr.kind !== "eq" || rr.kind !== "eq" || er.kind === "eq") continue;
    const s = lr.c.concat(er.c, rr.c);
    const len = er.c.length;
    let p = lr.c.length; // window start: l = s[..p], e = s[p..p+len], r = s[p+len..]
    // slide as far left as the text allows
    while (p > 0 && len > 0 && s[p - 1] === s[p + len - 1]) p--;
    // then step right, keeping the best place (the first of equal ones)
    const score = (q: number) => boundaryScore(s, 0, q, q + len) + boundaryScore(s, q, q + len, s.length);
    let best = p;
    let bestScore = score(p);
    while (len > 0 && p + len < s.length && s[p] === s[p + len]) {
      p++;
      const sc = score(p);
      if (sc > bestScore) {
        bestScore = sc;
        best = p;
      }
    }
    runs[i - 1] = { kind: "eq", c: s.slice(0, best) };
    runs[i] = { kind: er.kind, c: s.slice(best, best + len) };
    runs[i + 1] = { kind: "eq", c: s.slice(best + len) };
  }
}
