// Key order of the Rust client: its BTreeMap/BTreeSet of String iterate in byte order of the
// UTF-8 encoding, which is code point order. JavaScript's default string order compares UTF-16
// units and differs from it above U+FFFF (a surrogate pair sorts below U+E000..U+FFFF), so
// every place the Rust code iterates an ordered map or set uses these instead:
//
// - `cmpKeys(a, b)`: code point order of two strings (negative, 0, positive).
// - `cmpPair`: lexicographic order of `[string, string]` tuples (Rust's `(String, String)`).
// - `SortedMap<K, V>` / `SortedSet<K>`: Map/Set-like containers whose iteration is always in
//   key order (`BTreeMap` / `BTreeSet`). Default keys are strings; `pairOrder` makes them
//   tuples. Iteration works on a snapshot of the order taken when it starts, so changing the
//   container while iterating is safe (the Rust code never does; a changed value of an
//   existing key is seen, since entries are shared).
// Pure code, no I/O.

/** Code point (= UTF-8 byte) order of two strings: negative if `a < b`, 0 if equal, positive if `a > b`. */
export function cmpKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) return fixup(x) - fixup(y);
      return x - y;
    }
  }
  return a.length - b.length;
}

// Units from U+D800 up, remapped so that surrogates (astral code points) sort above U+E000..U+FFFF.
function fixup(u: number): number {
  return u >= 0xe000 ? u - 0x800 : u + 0x2000;
}

/** Lexicographic order of string tuples, each element by `cmpKeys` (Rust's tuple `Ord`). */
export function cmpPair(a: readonly [string, string], b: readonly [string, string]): number {
  return cmpKeys(a[0], b[0]) || cmpKeys(a[1], b[1]);
}

/** Lexicographic order of two sequences of strings (Rust's `Vec<String>` / slice `Ord`). */
export function cmpStringArrays(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = cmpKeys(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Lexicographic order of two number sequences (Rust's `Vec<usize>` `Ord`). */
export function cmpNumberArrays(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** A sorted copy of `keys` in code point order. */
export function sortedKeys(keys: Iterable<string>): string[] {
  return Array.from(keys).sort(cmpKeys);
}

/** How a key type is ordered (`cmp`) and identified (`id`: equal keys give the same string). */
export interface KeyOrder<K> {
  cmp(a: K, b: K): number;
  id(k: K): string;
}

/** Strings in code point order. */
export const stringOrder: KeyOrder<string> = { cmp: cmpKeys, id: (k) => k };

/**
 * `[string, string]` tuples, lexicographic. The id joins the parts with U+0000, which keys,
 * kinds and property names cannot contain (Postgres text and jsonb refuse it).
 */
export const pairOrder: KeyOrder<readonly [string, string]> = { cmp: cmpPair, id: (k) => k[0] + "\u0000" + k[1] };

/** An ordered map (Rust's `BTreeMap`): Map-like, iterating in key order. */
export class SortedMap<K = string, V = unknown> implements Iterable<[K, V]> {
  private readonly m = new Map<string, [K, V]>();
  private order: [K, V][] | null = null;
  readonly keyOrder: KeyOrder<K>;

  constructor(entries?: Iterable<readonly [K, V]> | null, keyOrder?: KeyOrder<K>) {
    this.keyOrder = keyOrder ?? (stringOrder as unknown as KeyOrder<K>);
    if (entries) for (const [k, v] of entries) this.set(k, v);
  }

  /** An empty map of `[string, string]` keys. */
  static pairs<V>(entries?: Iterable<readonly [readonly [string, string], V]>): SortedMap<readonly [string, string], V> {
    return new SortedMap<readonly [string, string], V>(entries, pairOrder);
  }

  get size(): number {
    return this.m.size;
  }

  isEmpty(): boolean {
    return this.m.size === 0;
  }

  get(k: K): V | undefined {
    return this.m.get(this.keyOrder.id(k))?.[1];
  }

  has(k: K): boolean {
    return this.m.has(this.keyOrder.id(k));
  }

  /** Sets `k` to `v` (Map-style, returns the map). */
  set(k: K, v: V): this {
    const id = this.keyOrder.id(k);
    const e = this.m.get(id);
    if (e) {
      e[1] = v;
    } else {
      this.m.set(id, [k, v]);
      this.order = null;
    }
    return this;
  }

  /** Rust's `insert`: sets `k` to `v`, returns the value it had (undefined if none). */
  insert(k: K, v: V): V | undefined {
    const old = this.get(k);
    this.set(k, v);
    return old;
  }

  /** Map-style delete: true if `k` was there. */
  delete(k: K): boolean {
    const done = this.m.delete(this.keyOrder.id(k));
    if (done) this.order = null;
    return done;
  }

  /** Rust's `remove`: the removed value (undefined if `k` was not there). */
  remove(k: K): V | undefined {
    const id = this.keyOrder.id(k);
    const e = this.m.get(id);
    if (!e) return undefined;
    this.m.delete(id);
    this.order = null;
    return e[1];
  }

  clear(): void {
    this.m.clear();
    this.order = null;
  }

  /** The value of `k`, inserting `make()` first if there is none (Rust's `entry().or_insert_with`). */
  getOrInsertWith(k: K, make: () => V): V {
    const id = this.keyOrder.id(k);
    const e = this.m.get(id);
    if (e) return e[1];
    const v = make();
    this.m.set(id, [k, v]);
    this.order = null;
    return v;
  }

  private sorted(): [K, V][] {
    if (!this.order) {
      const cmp = this.keyOrder.cmp;
      this.order = Array.from(this.m.values()).sort((a, b) => cmp(a[0], b[0]));
    }
    return this.order;
  }

  /** Entries in key order (the pairs are the map's own: do not mutate them). */
  *entries(): IterableIterator<[K, V]> {
    const arr = this.sorted();
    for (let i = 0; i < arr.length; i++) yield arr[i]!;
  }

  *keys(): IterableIterator<K> {
    const arr = this.sorted();
    for (let i = 0; i < arr.length; i++) yield arr[i]![0];
  }

  *values(): IterableIterator<V> {
    const arr = this.sorted();
    for (let i = 0; i < arr.length; i++) yield arr[i]![1];
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  /** Keys in order, as an array. */
  keyArray(): K[] {
    return this.sorted().map((e) => e[0]);
  }

  /** Entries in order, as a fresh array of fresh pairs. */
  toArray(): [K, V][] {
    return this.sorted().map((e) => [e[0], e[1]]);
  }

  /** The entry with the smallest key. */
  first(): [K, V] | undefined {
    const arr = this.sorted();
    const e = arr[0];
    return e ? [e[0], e[1]] : undefined;
  }

  /** The entry with the largest key. */
  last(): [K, V] | undefined {
    const arr = this.sorted();
    const e = arr[arr.length - 1];
    return e ? [e[0], e[1]] : undefined;
  }

  /** Keeps the entries for which `keep(k, v)` is true (Rust's `retain`). */
  retain(keep: (k: K, v: V) => boolean): void {
    for (const [id, e] of Array.from(this.m.entries())) {
      if (!keep(e[0], e[1])) {
        this.m.delete(id);
        this.order = null;
      }
    }
  }

  /** A copy; `cloneValue` copies each value (default: values are shared). */
  clone(cloneValue?: (v: V) => V): SortedMap<K, V> {
    const out = new SortedMap<K, V>(null, this.keyOrder);
    for (const [id, e] of this.m) out.m.set(id, [e[0], cloneValue ? cloneValue(e[1]) : e[1]]);
    if (this.order && !cloneValue) {
      // same order, fresh pairs
      out.order = this.order.map((e) => out.m.get(this.keyOrder.id(e[0]))!);
    }
    return out;
  }

  /** Same keys, and values equal by `eq` (default `===`). */
  equals(other: SortedMap<K, V>, eq: (a: V, b: V) => boolean = (a, b) => a === b): boolean {
    if (this.m.size !== other.m.size) return false;
    for (const [id, e] of this.m) {
      const o = other.m.get(id);
      if (!o || !eq(e[1], o[1])) return false;
    }
    return true;
  }
}

/** An ordered set (Rust's `BTreeSet`): Set-like, iterating in order. */
export class SortedSet<K = string> implements Iterable<K> {
  private readonly m = new Map<string, K>();
  private order: K[] | null = null;
  readonly keyOrder: KeyOrder<K>;

  constructor(items?: Iterable<K> | null, keyOrder?: KeyOrder<K>) {
    this.keyOrder = keyOrder ?? (stringOrder as unknown as KeyOrder<K>);
    if (items) for (const k of items) this.add(k);
  }

  /** A set of `[string, string]` tuples. */
  static pairs(items?: Iterable<readonly [string, string]>): SortedSet<readonly [string, string]> {
    return new SortedSet<readonly [string, string]>(items, pairOrder);
  }

  get size(): number {
    return this.m.size;
  }

  isEmpty(): boolean {
    return this.m.size === 0;
  }

  has(k: K): boolean {
    return this.m.has(this.keyOrder.id(k));
  }

  /** Set-style add (returns the set). */
  add(k: K): this {
    const id = this.keyOrder.id(k);
    if (!this.m.has(id)) {
      this.m.set(id, k);
      this.order = null;
    }
    return this;
  }

  /** Rust's `insert`: true if `k` was not there. */
  insert(k: K): boolean {
    const id = this.keyOrder.id(k);
    if (this.m.has(id)) return false;
    this.m.set(id, k);
    this.order = null;
    return true;
  }

  /** true if `k` was there (Rust's `remove`). */
  delete(k: K): boolean {
    const done = this.m.delete(this.keyOrder.id(k));
    if (done) this.order = null;
    return done;
  }

  remove(k: K): boolean {
    return this.delete(k);
  }

  clear(): void {
    this.m.clear();
    this.order = null;
  }

  /** Adds every item (Rust's `extend`). */
  extend(items: Iterable<K>): void {
    for (const k of items) this.add(k);
  }

  private sorted(): K[] {
    if (!this.order) {
      const cmp = this.keyOrder.cmp;
      this.order = Array.from(this.m.values()).sort(cmp);
    }
    return this.order;
  }

  *values(): IterableIterator<K> {
    const arr = this.sorted();
    for (let i = 0; i < arr.length; i++) yield arr[i]!;
  }

  keys(): IterableIterator<K> {
    return this.values();
  }

  [Symbol.iterator](): IterableIterator<K> {
    return this.values();
  }

  /** The items in order, as a fresh array. */
  toArray(): K[] {
    return this.sorted().slice();
  }

  first(): K | undefined {
    return this.sorted()[0];
  }

  last(): K | undefined {
    const arr = this.sorted();
    return arr[arr.length - 1];
  }

  /** Removes and returns the smallest item. */
  popFirst(): K | undefined {
    const k = this.first();
    if (k !== undefined) this.delete(k);
    return k;
  }

  /** Removes and returns the largest item. */
  popLast(): K | undefined {
    const k = this.last();
    if (k !== undefined) this.delete(k);
    return k;
  }

  /** Keeps the items for which `keep(k)` is true (Rust's `retain`). */
  retain(keep: (k: K) => boolean): void {
    for (const [id, k] of Array.from(this.m.entries())) {
      if (!keep(k)) {
        this.m.delete(id);
        this.order = null;
      }
    }
  }

  /** A new set of the items for which `keep(k)` is true. */
  filter(keep: (k: K) => boolean): SortedSet<K> {
    const out = new SortedSet<K>(null, this.keyOrder);
    for (const k of this.sorted()) if (keep(k)) out.add(k);
    return out;
  }

  clone(): SortedSet<K> {
    const out = new SortedSet<K>(null, this.keyOrder);
    for (const [id, k] of this.m) out.m.set(id, k);
    out.order = this.order;
    return out;
  }

  equals(other: SortedSet<K>): boolean {
    if (this.m.size !== other.m.size) return false;
    for (const id of this.m.keys()) if (!other.m.has(id)) return false;
    return true;
  }

  /** True if every item of this set is in `other`. */
  isSubset(other: SortedSet<K>): boolean {
    for (const id of this.m.keys()) if (!other.m.has(id)) return false;
    return true;
  }
}
