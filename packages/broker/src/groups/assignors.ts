/**
 * Server-side partition assignors of KIP-848 consumer groups (Kafka 4's `uniform` and `range`,
 * chosen by the member's `ServerAssignor` field; `uniform` is the default).
 *
 * - uniform: every partition of a subscribed topic goes to one of its subscribers; the counts are
 *   balanced (max − min ≤ 1 when all members share the subscription, otherwise as balanced as the
 *   subscriptions allow: no chain of moves can take a partition from a member to one holding two
 *   or more fewer), then sticky (a member keeps what it has whenever balance allows).
 * - range: per topic, its subscribers sorted by member id get contiguous ranges, the first
 *   (P mod N) one partition more (the client RangeAssignor; co-partitioned topics line up).
 *
 * Pure functions of their input: members are taken in member-id order, topics in (name, key)
 * order, so the Map order of the spec never matters.
 */

/** A topic the group's members subscribe to; key = topic id as a string (opaque to you). */
export interface TopicSpec {
  name: string;
  partitions: number;
}

export interface MemberSpec {
  instanceId: string | null;
  rackId: string | null;
  /** Topic keys this member subscribes to (only topics that exist are in AssignmentSpec.topics). */
  subscribed: ReadonlySet<string>;
  /** The member's previous target assignment (topic key → partitions), for stickiness. */
  current: ReadonlyMap<string, readonly number[]>;
}

export interface AssignmentSpec {
  /** member id → spec */
  members: ReadonlyMap<string, MemberSpec>;
  /** topic key → spec */
  topics: ReadonlyMap<string, TopicSpec>;
}

/** member id → (topic key → sorted partitions). Every member of the spec appears (maybe empty map). */
export type GroupAssignment = Map<string, Map<string, number[]>>;

export interface ServerAssignor {
  readonly name: string;
  assign(spec: AssignmentSpec): GroupAssignment;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The spec in index form: members and topics sorted, subscriptions resolved to existing topics. */
interface Indexed {
  memberIds: string[];
  memberSpecs: MemberSpec[];
  topicKeys: string[];
  /** partition count per topic index (negative or fractional counts read as 0) */
  parts: number[];
  topicIndex: Map<string, number>;
  /** topic indexes each member subscribes to, ascending */
  memberTopics: number[][];
  /** member indexes subscribed to each topic, ascending */
  subscribers: number[][];
}

function indexSpec(spec: AssignmentSpec): Indexed {
  const memberIds = [...spec.members.keys()].sort(cmp);
  const memberSpecs = memberIds.map((id) => spec.members.get(id)!);
  const topicKeys = [...spec.topics.keys()].sort((a, b) => {
    const ta = spec.topics.get(a)!;
    const tb = spec.topics.get(b)!;
    return cmp(ta.name, tb.name) || cmp(a, b);
  });
  const parts = topicKeys.map((k) => {
    const n = spec.topics.get(k)!.partitions;
    return Number.isInteger(n) && n > 0 ? n : 0;
  });
  const topicIndex = new Map<string, number>();
  topicKeys.forEach((k, i) => {
    topicIndex.set(k, i);
  });
  const subscribers: number[][] = topicKeys.map(() => []);
  const memberTopics = memberSpecs.map((m, mi) => {
    const ts: number[] = [];
    for (const key of m.subscribed) {
      const t = topicIndex.get(key);
      if (t !== undefined) ts.push(t);
    }
    ts.sort((a, b) => a - b);
    for (const t of ts) subscribers[t].push(mi);
    return ts;
  });
  return { memberIds, memberSpecs, topicKeys, parts, topicIndex, memberTopics, subscribers };
}

/**
 * The partitions a member may keep from its `current`: of subscribed, existing topics, in range,
 * not already claimed by an earlier member; in (topic order, partition) order. `owner[t][p]`
 * is -1 when free. The returned pairs are not claimed yet.
 */
function stickyCandidates(ix: Indexed, mi: number, owner: Int32Array[]): number[][] {
  const cur = ix.memberSpecs[mi].current;
  const subscribed = ix.memberSpecs[mi].subscribed;
  const found: [number, readonly number[]][] = [];
  for (const [key, ps] of cur) {
    const t = ix.topicIndex.get(key);
    if (t === undefined || !subscribed.has(key) || ix.parts[t] === 0) continue;
    found.push([t, ps]);
  }
  found.sort((a, b) => a[0] - b[0]);
  const out: number[][] = [];
  for (const [t, ps] of found) {
    const n = ix.parts[t];
    const own = owner[t];
    const list = [...new Set(ps)].filter((p) => Number.isInteger(p) && p >= 0 && p < n && own[p] === -1);
    list.sort((a, b) => a - b);
    for (const p of list) out.push([t, p]);
  }
  return out;
}

function pushTo(held: Map<number, number[]>, t: number, p: number): void {
  const l = held.get(t);
  if (l) l.push(p);
  else held.set(t, [p]);
}

function emptyOwners(ix: Indexed): Int32Array[] {
  return ix.parts.map((n) => new Int32Array(n).fill(-1));
}

/** Builds the result from per-member (topic → partitions) holdings. */
function toAssignment(ix: Indexed, held: Map<number, number[]>[]): GroupAssignment {
  const out: GroupAssignment = new Map();
  ix.memberIds.forEach((id, mi) => {
    const m = new Map<string, number[]>();
    const ts = [...held[mi].keys()].sort((a, b) => a - b);
    for (const t of ts) {
      const ps = held[mi].get(t)!;
      if (ps.length > 0)
        m.set(
          ix.topicKeys[t],
          [...ps].sort((a, b) => a - b),
        );
    }
    out.set(id, m);
  });
  return out;
}

/** A binary min-heap of small ints ordered by a comparator that may read mutable state. */
class IntHeap {
  private readonly a: number[] = [];
  constructor(private readonly less: (x: number, y: number) => boolean) {}
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    let i = a.push(v) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l], a[m])) m = l;
        if (r < a.length && this.less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

// ---------------------------------------------------------------------------------------------
// uniform, all members subscribed to the same topics

function uniformHomogeneous(ix: Indexed): GroupAssignment {
  const n = ix.memberIds.length;
  const topics = ix.memberTopics[0];
  let total = 0;
  for (const t of topics) total += ix.parts[t];
  const owner = emptyOwners(ix);
  const cands: number[][][] = [];
  for (let mi = 0; mi < n; mi++) {
    const c = stickyCandidates(ix, mi, owner);
    for (const [t, p] of c) owner[t][p] = mi;
    cands.push(c);
  }
  // The (total mod n) members allowed one partition more are those holding the most (then by
  // member id): nobody gives up a partition it could keep.
  const q = Math.floor(total / n);
  let extra = total % n;
  const quota = new Array<number>(n).fill(q);
  const byHeld = [...Array(n).keys()].sort((a, b) => cands[b].length - cands[a].length || a - b);
  for (const mi of byHeld) {
    if (extra === 0) break;
    quota[mi] = q + 1;
    extra--;
  }
  const held: Map<number, number[]>[] = [];
  const load = new Array<number>(n).fill(0);
  for (let mi = 0; mi < n; mi++) {
    const h = new Map<number, number[]>();
    cands[mi].forEach(([t, p], i) => {
      if (i < quota[mi]) {
        pushTo(h, t, p);
        load[mi]++;
      } else {
        owner[t][p] = -1;
      }
    });
    held.push(h);
  }
  // Hand the free partitions, in topic and partition order, to the members below quota.
  let mi = 0;
  for (const t of topics) {
    const own = owner[t];
    for (let p = 0; p < own.length; p++) {
      if (own[p] !== -1) continue;
      while (load[mi] >= quota[mi]) mi++;
      own[p] = mi;
      pushTo(held[mi], t, p);
      load[mi]++;
    }
  }
  return toAssignment(ix, held);
}

// ---------------------------------------------------------------------------------------------
// uniform, heterogeneous subscriptions

/** Holdings during a heterogeneous assignment. */
interface State {
  owner: Int32Array[];
  held: Map<number, number[]>[];
  load: number[];
}

function newState(ix: Indexed): State {
  return {
    owner: emptyOwners(ix),
    held: ix.memberIds.map(() => new Map()),
    load: new Array<number>(ix.memberIds.length).fill(0),
  };
}

function give(s: State, mi: number, t: number, p: number): void {
  s.owner[t][p] = mi;
  pushTo(s.held[mi], t, p);
  s.load[mi]++;
}

/** Topic indexes with partitions and subscribers, fewest subscribers first (most constrained). */
function topicsByConstraint(ix: Indexed): number[] {
  const ts: number[] = [];
  for (let t = 0; t < ix.topicKeys.length; t++)
    if (ix.parts[t] > 0 && ix.subscribers[t].length > 0) ts.push(t);
  return ts.sort((a, b) => ix.subscribers[a].length - ix.subscribers[b].length || a - b);
}

/** Gives every free partition to the subscriber that `less` ranks first at that moment. */
function fill(ix: Indexed, s: State, less: (x: number, y: number) => boolean): void {
  for (const t of topicsByConstraint(ix)) {
    const own = s.owner[t];
    let heap: IntHeap | null = null;
    for (let p = 0; p < own.length; p++) {
      if (own[p] !== -1) continue;
      if (!heap) {
        heap = new IntHeap(less);
        for (const mi of ix.subscribers[t]) heap.push(mi);
      }
      const mi = heap.pop();
      give(s, mi, t, p);
      heap.push(mi);
    }
  }
}

/**
 * Moves partitions along chains (member → member subscribed to a topic the former holds → ...)
 * until no chain leads from a member to one holding two or more fewer partitions, which is the
 * minimum of the sum of squared counts (Kafka's "as balanced as the subscriptions allow").
 *
 * Rounds: a breadth-first search from all active members at the highest count; each reached
 * member at least two below gets one partition along its (shortest) path, from a root still at
 * the highest count. When nothing reached is two below, the reached set is closed (every
 * subscriber of every topic it holds is in it) and cannot gain or lose any more: it is retired.
 */
function balance(ix: Indexed, s: State): void {
  const n = ix.memberIds.length;
  const T = ix.topicKeys.length;
  const active = new Uint8Array(n).fill(1);
  let activeCount = n;
  const seenMember = new Int32Array(n).fill(-1);
  const seenTopic = new Int32Array(T).fill(-1);
  const parent = new Int32Array(n);
  const viaTopic = new Int32Array(n);
  const queue = new Int32Array(n);
  let round = 0;
  while (activeCount > 0) {
    round++;
    let max = -1;
    for (let mi = 0; mi < n; mi++) if (active[mi] && s.load[mi] > max) max = s.load[mi];
    let qh = 0;
    let qt = 0;
    for (let mi = 0; mi < n; mi++) {
      if (active[mi] && s.load[mi] === max) {
        seenMember[mi] = round;
        parent[mi] = -1;
        queue[qt++] = mi;
      }
    }
    let min = max;
    while (qh < qt) {
      const u = queue[qh++];
      if (s.load[u] < min) min = s.load[u];
      for (const [t, ps] of s.held[u]) {
        if (ps.length === 0 || seenTopic[t] === round) continue;
        seenTopic[t] = round;
        for (const v of ix.subscribers[t]) {
          if (!active[v] || seenMember[v] === round) continue;
          seenMember[v] = round;
          parent[v] = u;
          viaTopic[v] = t;
          queue[qt++] = v;
        }
      }
    }
    if (min >= max - 1) {
      for (let i = 0; i < qt; i++) active[queue[i]] = 0;
      activeCount -= qt;
      continue;
    }
    const targets: number[] = [];
    const order = new Map<number, number>();
    for (let i = 0; i < qt; i++) {
      const v = queue[i];
      if (s.load[v] <= max - 2) {
        targets.push(v);
        order.set(v, i);
      }
    }
    targets.sort((a, b) => s.load[a] - s.load[b] || order.get(a)! - order.get(b)!);
    for (const d of targets) {
      if (s.load[d] > max - 2) continue;
      let ok = true;
      let v = d;
      while (parent[v] !== -1) {
        const u = parent[v];
        if ((s.held[u].get(viaTopic[v])?.length ?? 0) === 0) {
          ok = false;
          break;
        }
        v = u;
      }
      if (!ok || s.load[v] !== max) continue;
      // Shift one partition along the path, from the destination's end backwards.
      v = d;
      while (parent[v] !== -1) {
        const u = parent[v];
        const t = viaTopic[v];
        const p = s.held[u].get(t)!.pop()!;
        s.load[u]--;
        give(s, v, t, p);
        v = u;
      }
    }
  }
}

function uniformHeterogeneous(ix: Indexed): GroupAssignment {
  const n = ix.memberIds.length;
  // 1. A balanced assignment from scratch gives each member's target count (any two balanced
  //    assignments differ by at most one per member).
  const scratch = newState(ix);
  fill(
    ix,
    scratch,
    (a, b) => scratch.load[a] - scratch.load[b] < 0 || (scratch.load[a] === scratch.load[b] && a < b),
  );
  balance(ix, scratch);
  const target = scratch.load;
  // 2. Members keep their valid previous partitions up to target + 1.
  const s = newState(ix);
  for (let mi = 0; mi < n; mi++) {
    const cap = target[mi] + 1;
    for (const [t, p] of stickyCandidates(ix, mi, s.owner)) {
      if (s.load[mi] >= cap) break;
      give(s, mi, t, p);
    }
  }
  // 3. The free partitions go to the subscribers furthest below their target, 4. then balance.
  const over = (mi: number): number => s.load[mi] - target[mi];
  fill(
    ix,
    s,
    (a, b) =>
      over(a) < over(b) ||
      (over(a) === over(b) && (s.load[a] < s.load[b] || (s.load[a] === s.load[b] && a < b))),
  );
  balance(ix, s);
  return toAssignment(ix, s.held);
}

function assignUniform(spec: AssignmentSpec): GroupAssignment {
  const ix = indexSpec(spec);
  const n = ix.memberIds.length;
  if (n === 0) return new Map();
  const first = ix.memberTopics[0];
  const homogeneous = ix.memberTopics.every(
    (ts) => ts.length === first.length && ts.every((t, i) => t === first[i]),
  );
  return homogeneous ? uniformHomogeneous(ix) : uniformHeterogeneous(ix);
}

// ---------------------------------------------------------------------------------------------
// range

function assignRange(spec: AssignmentSpec): GroupAssignment {
  const ix = indexSpec(spec);
  const held: Map<number, number[]>[] = ix.memberIds.map(() => new Map());
  for (let t = 0; t < ix.topicKeys.length; t++) {
    const subs = ix.subscribers[t];
    const total = ix.parts[t];
    if (subs.length === 0 || total === 0) continue;
    const q = Math.floor(total / subs.length);
    const extra = total % subs.length;
    let next = 0;
    subs.forEach((mi, i) => {
      const count = q + (i < extra ? 1 : 0);
      if (count === 0) return;
      const ps = new Array<number>(count);
      for (let k = 0; k < count; k++) ps[k] = next + k;
      next += count;
      held[mi].set(t, ps);
    });
  }
  return toAssignment(ix, held);
}

export const UNIFORM_ASSIGNOR: ServerAssignor = Object.freeze({ name: 'uniform', assign: assignUniform });
export const RANGE_ASSIGNOR: ServerAssignor = Object.freeze({ name: 'range', assign: assignRange });

/** The broker's server-side assignors by name; the first ('uniform') is the default. */
export const SERVER_ASSIGNORS: ReadonlyMap<string, ServerAssignor> = new Map([
  [UNIFORM_ASSIGNOR.name, UNIFORM_ASSIGNOR],
  [RANGE_ASSIGNOR.name, RANGE_ASSIGNOR],
]);
