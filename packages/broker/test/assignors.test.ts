import { describe, expect, it } from 'vitest';
import {
  type AssignmentSpec,
  type GroupAssignment,
  type MemberSpec,
  RANGE_ASSIGNOR,
  SERVER_ASSIGNORS,
  type ServerAssignor,
  type TopicSpec,
  UNIFORM_ASSIGNOR,
} from '../src/groups/assignors.ts';

// ---- helpers --------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG. */
function rngOf(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const int = (r: () => number, n: number): number => Math.floor(r() * n);
function shuffle<T>(r: () => number, xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = int(r, i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

type Current = Map<string, number[]>;
function member(subscribed: Iterable<string>, current: Current = new Map()): MemberSpec {
  return { instanceId: null, rackId: null, subscribed: new Set(subscribed), current };
}

interface GenOptions {
  members: number;
  topics: number;
  maxPartitions: number;
  homogeneous: boolean;
  /** give members random (often stale, overlapping, out-of-range) previous assignments */
  messyCurrent: boolean;
}

function genSpec(r: () => number, o: GenOptions): AssignmentSpec {
  const topics = new Map<string, TopicSpec>();
  const keys: string[] = [];
  for (let i = 0; i < o.topics; i++) {
    const key = `id-${int(r, 1e9).toString(36)}-${i}`;
    keys.push(key);
    topics.set(key, { name: `topic-${int(r, 1000)}`, partitions: int(r, o.maxPartitions + 1) });
  }
  const pickSubs = (): string[] => {
    const s = keys.filter(() => r() < 0.5);
    if (r() < 0.2) s.push('missing-topic');
    return s;
  };
  const common = pickSubs();
  const members = new Map<string, MemberSpec>();
  for (let i = 0; i < o.members; i++) {
    const subs = o.homogeneous ? common : r() < 0.1 ? [] : pickSubs();
    const current: Current = new Map();
    if (o.messyCurrent) {
      for (const k of [...keys, 'gone-topic']) {
        if (r() < 0.4) {
          const n = topics.get(k)?.partitions ?? 5;
          const ps: number[] = [];
          for (let j = int(r, n + 3); j > 0; j--) ps.push(int(r, n + 2));
          current.set(k, ps);
        }
      }
    }
    members.set(`member-${int(r, 1e6).toString(36)}-${i}`, member(subs, current));
  }
  return { members, topics };
}

/** Re-creates the spec with every Map, Set and array in a different order. */
function reorder(r: () => number, spec: AssignmentSpec): AssignmentSpec {
  const members = new Map<string, MemberSpec>();
  for (const id of shuffle(r, [...spec.members.keys()])) {
    const m = spec.members.get(id)!;
    const current: Current = new Map();
    for (const k of shuffle(r, [...m.current.keys()])) current.set(k, shuffle(r, [...m.current.get(k)!]));
    members.set(id, member(shuffle(r, [...m.subscribed]), current));
  }
  const topics = new Map<string, TopicSpec>();
  for (const k of shuffle(r, [...spec.topics.keys()])) topics.set(k, { ...spec.topics.get(k)! });
  return { members, topics };
}

const serialize = (a: GroupAssignment): string =>
  JSON.stringify([...a].map(([m, ts]) => [m, [...ts]]).sort((x, y) => (x[0] < y[0] ? -1 : 1)));

const count = (ts: Map<string, number[]>): number => {
  let n = 0;
  for (const ps of ts.values()) n += ps.length;
  return n;
};

/** Every partition of a subscribed topic exactly once, to a subscriber; nothing else. */
function checkValid(spec: AssignmentSpec, a: GroupAssignment): void {
  expect([...a.keys()].sort()).toEqual([...spec.members.keys()].sort());
  const seen = new Map<string, Set<number>>();
  for (const [mid, ts] of a) {
    const m = spec.members.get(mid)!;
    for (const [k, ps] of ts) {
      expect(m.subscribed.has(k)).toBe(true);
      const t = spec.topics.get(k);
      expect(t).toBeDefined();
      expect(ps.length).toBeGreaterThan(0);
      expect([...ps].sort((x, y) => x - y)).toEqual(ps);
      const s = seen.get(k) ?? new Set<number>();
      seen.set(k, s);
      for (const p of ps) {
        expect(Number.isInteger(p) && p >= 0 && p < t!.partitions).toBe(true);
        expect(s.has(p)).toBe(false);
        s.add(p);
      }
    }
  }
  for (const [k, t] of spec.topics) {
    const subscribed = [...spec.members.values()].some((m) => m.subscribed.has(k));
    expect(seen.get(k)?.size ?? 0).toBe(subscribed ? t.partitions : 0);
  }
}

/**
 * "As balanced as the subscriptions allow": no chain of moves (member → a subscriber of a topic
 * it holds → ...) from a member to one holding two or more fewer partitions.
 */
function checkBalanced(spec: AssignmentSpec, a: GroupAssignment): void {
  const load = new Map<string, number>();
  for (const [m, ts] of a) load.set(m, count(ts));
  const subsOf = new Map<string, string[]>();
  for (const [mid, m] of spec.members) {
    for (const k of m.subscribed) {
      if (!subsOf.has(k)) subsOf.set(k, []);
      subsOf.get(k)!.push(mid);
    }
  }
  for (const src of a.keys()) {
    const seen = new Set([src]);
    const queue = [src];
    while (queue.length > 0) {
      const u = queue.shift()!;
      expect(load.get(u)!, `${src} → ${u}`).toBeGreaterThanOrEqual(load.get(src)! - 1);
      for (const [k, ps] of a.get(u)!) {
        if (ps.length === 0) continue;
        for (const v of subsOf.get(k) ?? []) {
          if (!seen.has(v)) {
            seen.add(v);
            queue.push(v);
          }
        }
      }
    }
  }
}

const sumSquares = (xs: number[]): number => xs.reduce((s, x) => s + x * x, 0);

function loads(a: GroupAssignment): number[] {
  return [...a.values()].map(count);
}

/** Partitions (topic:partition) owned by a member before and by another (or nobody) after. */
function moved(before: GroupAssignment, after: GroupAssignment): { moves: number; movedFrom: Set<string> } {
  const ownerAfter = new Map<string, string>();
  for (const [m, ts] of after) for (const [k, ps] of ts) for (const p of ps) ownerAfter.set(`${k}:${p}`, m);
  let moves = 0;
  const movedFrom = new Set<string>();
  for (const [m, ts] of before) {
    for (const [k, ps] of ts) {
      for (const p of ps) {
        if (ownerAfter.get(`${k}:${p}`) !== m) {
          moves++;
          movedFrom.add(m);
        }
      }
    }
  }
  return { moves, movedFrom };
}

/** The spec with every member's `current` = its part of `a`. */
function withCurrent(spec: AssignmentSpec, a: GroupAssignment): AssignmentSpec {
  const members = new Map<string, MemberSpec>();
  for (const [id, m] of spec.members) members.set(id, member(m.subscribed, new Map(a.get(id) ?? [])));
  return { members, topics: spec.topics };
}

// ---- registry -------------------------------------------------------------------------------

describe('SERVER_ASSIGNORS', () => {
  it('lists uniform first (the default), then range', () => {
    expect([...SERVER_ASSIGNORS.keys()]).toEqual(['uniform', 'range']);
    expect(SERVER_ASSIGNORS.get('uniform')).toBe(UNIFORM_ASSIGNOR);
    expect(SERVER_ASSIGNORS.get('range')).toBe(RANGE_ASSIGNOR);
  });

  for (const assignor of [UNIFORM_ASSIGNOR, RANGE_ASSIGNOR]) {
    it(`${assignor.name}: edge cases`, () => {
      expect(
        assignor.assign({ members: new Map(), topics: new Map([['t', { name: 't', partitions: 3 }]]) }),
      ).toEqual(new Map());
      const spec: AssignmentSpec = {
        members: new Map([
          ['a', member([])],
          ['b', member(['zero', 'nope'], new Map([['zero', [0, 1]]]))],
        ]),
        topics: new Map([
          ['zero', { name: 'zero', partitions: 0 }],
          ['t', { name: 't', partitions: 4 }],
        ]),
      };
      const a = assignor.assign(spec);
      expect(a).toEqual(
        new Map([
          ['a', new Map()],
          ['b', new Map()],
        ]),
      );
      checkValid(spec, a);
    });
  }
});

// ---- uniform --------------------------------------------------------------------------------

describe('uniform assignor', () => {
  const U = UNIFORM_ASSIGNOR;

  it('spreads a simple group evenly', () => {
    const spec: AssignmentSpec = {
      members: new Map([
        ['m1', member(['a', 'b'])],
        ['m2', member(['a', 'b'])],
        ['m3', member(['a', 'b'])],
      ]),
      topics: new Map([
        ['a', { name: 'alpha', partitions: 4 }],
        ['b', { name: 'beta', partitions: 3 }],
      ]),
    };
    const a = U.assign(spec);
    checkValid(spec, a);
    expect(loads(a).sort()).toEqual([2, 2, 3]);
  });

  it('balances heterogeneous subscriptions as far as they allow', () => {
    // m1 alone on x (6 partitions) must take all of x; y (6) goes to m2 and m3 — and so does
    // everything else, since m1 cannot help.
    const spec: AssignmentSpec = {
      members: new Map([
        ['m1', member(['x'])],
        ['m2', member(['y'])],
        ['m3', member(['y', 'x'])],
      ]),
      topics: new Map([
        ['x', { name: 'x', partitions: 6 }],
        ['y', { name: 'y', partitions: 6 }],
      ]),
    };
    const a = U.assign(spec);
    checkValid(spec, a);
    checkBalanced(spec, a);
    expect(loads(a)).toEqual([4, 4, 4]);
    // Chains count: m1 can only reach m2 through m3.
    const spec2: AssignmentSpec = {
      members: new Map([
        ['m1', member(['x'], new Map([['x', [0, 1, 2, 3, 4, 5]]]))],
        ['m2', member(['y'], new Map())],
        ['m3', member(['x', 'y'], new Map([['y', [0, 1, 2, 3, 4, 5]]]))],
      ]),
      topics: spec.topics,
    };
    const b = U.assign(spec2);
    checkValid(spec2, b);
    checkBalanced(spec2, b);
    expect(loads(b)).toEqual([4, 4, 4]);
    expect(b.get('m1')!.get('x')!.length).toBe(4);
  });

  for (const homogeneous of [true, false]) {
    const kind = homogeneous ? 'homogeneous' : 'heterogeneous';

    it(`${kind}: valid, balanced, deterministic and stable over random specs`, () => {
      for (let seed = 1; seed <= 300; seed++) {
        const r = rngOf(seed * 7919 + (homogeneous ? 1 : 2));
        const spec = genSpec(r, {
          members: int(r, 12),
          topics: int(r, 6),
          maxPartitions: int(r, 3) === 0 ? 3 : 24,
          homogeneous,
          messyCurrent: r() < 0.7,
        });
        const a = U.assign(spec);
        checkValid(spec, a);
        checkBalanced(spec, a);
        if (homogeneous) {
          const l = loads(a);
          if (l.length > 0) expect(Math.max(...l) - Math.min(...l)).toBeLessThanOrEqual(1);
        }
        // Input order does not matter.
        expect(serialize(U.assign(reorder(r, spec)))).toBe(serialize(a));
        // A balanced previous assignment is kept as it is.
        const again = U.assign(withCurrent(spec, a));
        expect(serialize(again)).toBe(serialize(a));
      }
    });
  }

  it('keeps any balanced previous assignment as it is (not only its own)', () => {
    let different = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const r = rngOf(seed * 2003);
      const spec = genSpec(r, {
        members: 1 + int(r, 12),
        topics: 1 + int(r, 5),
        maxPartitions: 30,
        homogeneous: r() < 0.3,
        messyCurrent: false,
      });
      // Another balanced assignment: the same spec with members renamed (so sorted differently).
      const ids = [...spec.members.keys()];
      const alias = new Map(ids.map((id) => [id, `${int(r, 1e6)}-${id}`]));
      const renamed = new Map<string, MemberSpec>();
      for (const id of shuffle(r, ids)) renamed.set(alias.get(id)!, spec.members.get(id)!);
      const viaAlias = U.assign({ members: renamed, topics: spec.topics });
      const other: GroupAssignment = new Map(ids.map((id) => [id, viaAlias.get(alias.get(id)!)!]));
      checkValid(spec, other);
      if (serialize(other) !== serialize(U.assign(spec))) different++;
      expect(serialize(U.assign(withCurrent(spec, other)))).toBe(serialize(other));
    }
    expect(different).toBeGreaterThan(100);
  });

  it('homogeneous: keeps what balance allows, moving the fewest partitions possible', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rngOf(seed * 104729);
      const n = 1 + int(r, 10);
      const topics = new Map<string, TopicSpec>();
      for (let i = 0; i < 1 + int(r, 4); i++) topics.set(`t${i}`, { name: `t${i}`, partitions: int(r, 30) });
      // A random valid previous assignment: each partition to a random member or to nobody.
      const cur: Current[] = Array.from({ length: n }, () => new Map());
      for (const [k, t] of topics) {
        for (let p = 0; p < t.partitions; p++) {
          if (r() < 0.2) continue;
          const m = cur[int(r, n)];
          if (!m.has(k)) m.set(k, []);
          m.get(k)!.push(p);
        }
      }
      const members = new Map<string, MemberSpec>();
      cur.forEach((c, i) => {
        members.set(`m${i}`, member(topics.keys(), c));
      });
      const spec = { members, topics };
      const a = U.assign(spec);
      checkValid(spec, a);
      const before: GroupAssignment = new Map(cur.map((c, i) => [`m${i}`, c]));
      // The fewest moves: the (P mod n) extra slots to the members holding most.
      let total = 0;
      for (const t of topics.values()) total += t.partitions;
      const q = Math.floor(total / n);
      const held = cur.map(count).sort((x, y) => y - x);
      let least = 0;
      held.forEach((h, i) => {
        least += Math.max(0, h - (q + (i < total % n ? 1 : 0)));
      });
      expect(moved(before, a).moves).toBe(least);
    }
  });

  for (const homogeneous of [true, false]) {
    const kind = homogeneous ? 'homogeneous' : 'heterogeneous';
    it(`${kind}: a leave moves only the leaver's partitions, a join only what the newcomer gets`, () => {
      let strictLeaves = 0;
      let strictJoins = 0;
      for (let seed = 1; seed <= 300; seed++) {
        const r = rngOf(seed * 31337 + (homogeneous ? 0 : 1));
        const spec = genSpec(r, {
          members: 2 + int(r, homogeneous ? 10 : 6),
          topics: 1 + int(r, homogeneous ? 5 : 4),
          maxPartitions: homogeneous ? 40 : 8,
          homogeneous,
          messyCurrent: false,
        });
        const a = U.assign(spec);
        const ids = [...spec.members.keys()];

        // A member leaves.
        const leaver = ids[int(r, ids.length)];
        const rest = new Map(spec.members);
        rest.delete(leaver);
        const leftSpec = withCurrent({ members: rest, topics: spec.topics }, a);
        const b = U.assign(leftSpec);
        checkValid(leftSpec, b);
        checkBalanced(leftSpec, b);
        const mv = moved(a, b);
        const leaverHeld = count(a.get(leaver)!);
        if (homogeneous) {
          expect(mv.moves).toBe(leaverHeld);
          expect([...mv.movedFrom].filter((m) => m !== leaver)).toEqual([]);
        } else if (mv.moves === leaverHeld) {
          strictLeaves++;
        } else {
          // Others' partitions moved: then balance must have needed it — no way of handing out
          // only the leaver's partitions is as balanced (exhaustive over reachable load vectors).
          const restIds = [...rest.keys()];
          let states = new Set([JSON.stringify(restIds.map((id) => count(a.get(id)!)))]);
          for (const [k, ps] of a.get(leaver)!) {
            const subs = restIds.flatMap((id, i) => (rest.get(id)!.subscribed.has(k) ? [i] : []));
            if (subs.length === 0) continue;
            for (let n = 0; n < ps.length; n++) {
              const next = new Set<string>();
              for (const st of states) {
                const l = JSON.parse(st) as number[];
                for (const i of subs) {
                  l[i]++;
                  next.add(JSON.stringify(l));
                  l[i]--;
                }
              }
              states = next;
            }
          }
          const bestStrict = Math.min(...[...states].map((st) => sumSquares(JSON.parse(st))));
          expect(bestStrict).toBeGreaterThan(sumSquares(loads(b)));
        }

        // A member joins.
        const joiner = 'member-new';
        const subs = homogeneous ? spec.members.get(ids[0])!.subscribed : spec.topics.keys();
        const joined = new Map(withCurrent(spec, a).members);
        joined.set(joiner, member(subs));
        const joinSpec = { members: joined, topics: spec.topics };
        const c = U.assign(joinSpec);
        checkValid(joinSpec, c);
        checkBalanced(joinSpec, c);
        const got = count(c.get(joiner)!);
        let elsewhere = 0; // partitions moved between old members
        for (const [m, ts] of a) {
          for (const [k, ps] of ts) {
            for (const p of ps) {
              const now = [...c].find(([, cts]) => cts.get(k)?.includes(p))![0];
              if (now !== m && now !== joiner) elsewhere++;
            }
          }
        }
        if (homogeneous) {
          expect(moved(a, c).moves).toBe(got);
        } else {
          // The newcomer subscribes to everything: taking one partition at a time from the
          // fullest old member gives the best balance reachable by moves to the newcomer only.
          const old = [...a.values()].map(count);
          let newcomer = got - moved(a, c).moves + elsewhere;
          for (;;) {
            const i = old.indexOf(Math.max(...old));
            if (old[i] <= newcomer + 1) break;
            old[i]--;
            newcomer++;
          }
          if (sumSquares([...old, newcomer]) === sumSquares(loads(c))) {
            expect(elsewhere).toBe(0);
            strictJoins++;
          } else {
            expect(sumSquares([...old, newcomer])).toBeGreaterThan(sumSquares(loads(c)));
          }
        }
      }
      if (!homogeneous) {
        // Most changes need no chain at all.
        expect(strictLeaves).toBeGreaterThan(200);
        expect(strictJoins).toBeGreaterThan(200);
      }
    });
  }

  it('handles a large group fast (1000 members × 10,000 partitions)', () => {
    const topics = new Map<string, TopicSpec>();
    for (let i = 0; i < 100; i++) topics.set(`topic-id-${i}`, { name: `topic-${i}`, partitions: 100 });
    const all = [...topics.keys()];
    const time = (label: string, spec: AssignmentSpec, assignor: ServerAssignor = U): GroupAssignment => {
      const t0 = performance.now();
      const a = assignor.assign(spec);
      const ms = performance.now() - t0;
      console.log(`${assignor.name} ${label}: ${ms.toFixed(1)} ms`);
      expect(ms).toBeLessThan(1000);
      return a;
    };
    const homo = new Map<string, MemberSpec>();
    for (let i = 0; i < 1000; i++) homo.set(`member-${i}`, member(all));
    const a = time('homogeneous, fresh', { members: homo, topics });
    expect(Math.max(...loads(a))).toBe(10);
    const joined = new Map(withCurrent({ members: homo, topics }, a).members);
    joined.set('member-new', member(all));
    const b = time('homogeneous, join', { members: joined, topics });
    expect(moved(a, b).moves).toBe(count(b.get('member-new')!));
    const left = new Map(withCurrent({ members: homo, topics }, a).members);
    left.delete('member-0');
    time('homogeneous, leave', { members: left, topics });
    // One member held everything; 999 more join.
    const one = new Map(homo);
    one.set('member-0', member(all, new Map(all.map((k) => [k, [...Array(100).keys()]]))));
    time('homogeneous, 999 join a lone member', { members: one, topics });
    time('homogeneous', { members: homo, topics }, RANGE_ASSIGNOR);

    // Heterogeneous: 5 subscription patterns over overlapping topic sets.
    const hetero = new Map<string, MemberSpec>();
    for (let i = 0; i < 1000; i++) {
      const g = i % 5;
      hetero.set(`member-${i}`, member(all.filter((_, j) => j % 5 !== g)));
    }
    const heteroSpec = { members: hetero, topics };
    const c = time('heterogeneous, fresh', heteroSpec);
    checkValid(heteroSpec, c);
    const hj = new Map(withCurrent(heteroSpec, c).members);
    hj.set('member-new', member(all.slice(0, 50)));
    const d = time('heterogeneous, join', { members: hj, topics });
    checkValid({ members: hj, topics }, d);
    const lone = new Map(hetero);
    lone.set(
      'member-0',
      member(hetero.get('member-0')!.subscribed, new Map(all.map((k) => [k, [...Array(100).keys()]]))),
    );
    time('heterogeneous, 999 join a lone member', { members: lone, topics });
    // Random subscriptions (every member different).
    const r = rngOf(42);
    const random = new Map<string, MemberSpec>();
    for (let i = 0; i < 1000; i++) random.set(`member-${i}`, member(all.filter(() => r() < 0.3)));
    const e = time('heterogeneous, random', { members: random, topics });
    checkValid({ members: random, topics }, e);
    time('heterogeneous, random', { members: random, topics }, RANGE_ASSIGNOR);
  });
});

// ---- range ----------------------------------------------------------------------------------

describe('range assignor', () => {
  const R = RANGE_ASSIGNOR;

  it('splits each topic into contiguous ranges like the client RangeAssignor', () => {
    const spec: AssignmentSpec = {
      members: new Map([
        ['c', member(['t1', 't2'])],
        ['a', member(['t1', 't2'])],
        ['b', member(['t1'])],
      ]),
      topics: new Map([
        ['t1', { name: 'one', partitions: 7 }],
        ['t2', { name: 'two', partitions: 3 }],
      ]),
    };
    expect(R.assign(spec)).toEqual(
      new Map([
        [
          'a',
          new Map([
            ['t1', [0, 1, 2]],
            ['t2', [0, 1]],
          ]),
        ],
        ['b', new Map([['t1', [3, 4]]])],
        [
          'c',
          new Map([
            ['t1', [5, 6]],
            ['t2', [2]],
          ]),
        ],
      ]),
    );
  });

  it('random specs: exact per-topic ranges, co-partitioning, determinism', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rngOf(seed * 65537);
      const spec = genSpec(r, {
        members: int(r, 12),
        topics: int(r, 6),
        maxPartitions: int(r, 2) === 0 ? 4 : 30,
        homogeneous: r() < 0.4,
        messyCurrent: r() < 0.5,
      });
      const a = R.assign(spec);
      checkValid(spec, a);
      expect(serialize(R.assign(reorder(r, spec)))).toBe(serialize(a));
      for (const [k, t] of spec.topics) {
        const subs = [...spec.members.keys()].filter((m) => spec.members.get(m)!.subscribed.has(k)).sort();
        let next = 0;
        subs.forEach((m, i) => {
          const size = Math.floor(t.partitions / subs.length) + (i < t.partitions % subs.length ? 1 : 0);
          const ps = a.get(m)!.get(k) ?? [];
          expect(ps).toEqual(Array.from({ length: size }, (_, j) => next + j));
          next += size;
        });
      }
      // Members with the same subscriptions get the same partition numbers of equal-sized topics.
      const keys = [...spec.topics.keys()];
      for (const k1 of keys) {
        for (const k2 of keys) {
          const subs = (k: string) =>
            [...spec.members.keys()].filter((m) => spec.members.get(m)!.subscribed.has(k)).join();
          if (k1 === k2 || spec.topics.get(k1)!.partitions !== spec.topics.get(k2)!.partitions) continue;
          if (subs(k1) !== subs(k2)) continue;
          for (const ts of a.values()) expect(ts.get(k1)).toEqual(ts.get(k2));
        }
      }
    }
  });
});
