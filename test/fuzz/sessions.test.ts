// Mutated UPDATEs through a live speaker: two dozen neighbors each send a seeded stream of
// fuzzed UPDATEs and, whenever one ends the session, come back and go on, while steady peers
// and a receiving peer look on. Every UPDATE the reference decoder (reference.ts) answers with
// a reset must get exactly that NOTIFICATION; nothing else may reset a session; the other
// sessions stay up; no route of a neighbor whose import keeps everything out, or of an UPDATE
// that ended a session, ever reaches the receiving peer; and each neighbor's import counters
// add up to what its stream should have caused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RIB, validateNeighbor, type Config } from '../../src/config/schema.js';
import { State } from '../../src/neighbor/fsm.js';
import type { Neighbor } from '../../src/neighbor/neighbor.js';
import { AsPathSegmentType, AttrFlag, AttrType, decodeNotification, encodeUpdate, MessageType, type PathAttribute } from '../../src/packet/index.js';
import { Speaker } from '../../src/speaker/speaker.js';
import { freePort } from '../helpers/env.js';
import { captureLog, defaultCaps, RawPeer, sleep, until } from '../helpers/rawPeer.js';
import { Rng, syntheticSeed, traceSeeds, type Seed } from './mutate.js';
import {
  accepts,
  actualStats,
  AdjRibInModel,
  canon,
  countExpected,
  fuzzCaps,
  fuzzStream,
  hex,
  noStats,
  RULE_ACCEPTS,
  SinkView,
  type ExpectedStats,
  type FuzzCase,
  type ImportKind,
} from './sessionPeers.js';

const SEED = 0x5e55;
const RS = '127.0.70.1';
const FUZZ_PEERS = 24;
const CASES_PER_PEER = 115;
const RESETS_PER_PEER = 14;
const KINDS: ImportKind[] = ['accept', 'none', 'reject', 'rule'];

const T = AttrFlag.Transitive;
let logLines: string[] = [];
const cleanup: Array<() => unknown> = [];

beforeAll(() => {
  logLines = captureLog();
});
afterAll(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

function attrs(asn: number): PathAttribute[] {
  return [
    { type: AttrType.ORIGIN, flags: T, origin: 0 },
    { type: AttrType.AS_PATH, flags: T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [asn] }] },
    { type: AttrType.NEXT_HOP, flags: T, nextHop: '198.18.0.9' },
  ];
}

const announce = (asn: number, ...prefixes: string[]) => encodeUpdate({ withdrawn: [], attributes: attrs(asn), nlri: prefixes.map((prefix) => ({ prefix })) }, { asn4: true });

interface Steady {
  addr: string;
  asn: number;
  prefixes: string[];
}

const STEADY: Steady[] = [0, 1, 2].map((i) => ({
  addr: `127.0.71.${i + 1}`,
  asn: 65101 + i,
  prefixes: [0, 1, 2, 3, 4].map((j) => `100.${64 + i}.${j * 4}.0/22`),
}));
const SINK = { addr: '127.0.72.1', asn: 65200 };

/** One fuzzed neighbor: its stream, what it should have done, and what went wrong. */
interface Fuzzed {
  addr: string;
  asn: number;
  kind: ImportKind;
  cases: FuzzCase[];
  neighbor?: Neighbor;
  expected: ExpectedStats;
  model: AdjRibInModel;
  /** UPDATEs framed by the speaker at least (the canaries after a reset not counted). */
  sent: number;
  connections: number;
  canaries: string[];
  peer: RawPeer | null;
  /** Findings, one line each. */
  problems: string[];
}

function neighborConfig(f: { addr: string; asn: number; kind: ImportKind }): Record<string, unknown> {
  const base = { address: f.addr, 'remote-as': f.asn, 'idle-hold-time': 1, 'idle-hold-max': 1 };
  switch (f.kind) {
    case 'accept':
      return { ...base, 'import-policy': 'accept' };
    case 'none':
      return base; // RFC 8212: an eBGP session without policy keeps nothing
    case 'reject':
      return { ...base, 'import-policy': 'reject' };
    case 'rule':
      return { ...base, import: { default: 'reject', rules: [{ prefixes: [RULE_ACCEPTS], action: 'accept' }] } };
  }
}

/** A list in a failure message: how many, and the first few. */
const few = (xs: string[]) => (xs.length ? `${xs.length}: ${xs.slice(0, 8).map((x) => (x.length > 240 ? `${x.slice(0, 240)}...` : x)).join(' ')}${xs.length > 8 ? ' ...' : ''}` : 'none');

const caseText = (c: FuzzCase) =>
  `case ${c.index} (${c.origin}, ${c.mutations.join(',') || 'no mutation'}; reference ${c.verdict.kind === 'reset' ? `${c.verdict.code}/${c.verdict.subcode}: ${c.verdict.reason}` : 'ok'}) ${hex(c.msg)}`;

describe('mutated UPDATEs from rotating peers through a live speaker', () => {
  it(`${FUZZ_PEERS} fuzzed neighbors: every reset answered as the reference says, nothing else disturbed`, async () => {
    // ---- the streams (deterministic: seeds and mutations from SEED; every session in CTX) ----
    const seeds: Seed[] = await traceSeeds(100);
    const seedRng = new Rng(SEED);
    for (let i = 0; i < 300; i++) seeds.push(syntheticSeed(seedRng));
    const fuzzed: Fuzzed[] = Array.from({ length: FUZZ_PEERS }, (_, i) => ({
      addr: `127.0.73.${i + 1}`,
      // Half of them with an AS number above 65535 (AS_TRANS in the OPEN).
      asn: i % 2 ? 4_200_000_000 + i : 64_600 + i,
      kind: KINDS[i % KINDS.length],
      cases: fuzzStream(seeds, new Rng(SEED + 1 + i), CASES_PER_PEER, RESETS_PER_PEER),
      expected: noStats(),
      model: new AdjRibInModel(),
      sent: 0,
      connections: 0,
      canaries: [],
      peer: null,
      problems: [],
    }));

    // What may reach the receiving peer: the steady routes and what an accepting import let in.
    const steadyPrefixes = new Set(STEADY.flatMap((s) => s.prefixes));
    const allowed = new Set(steadyPrefixes);
    for (const f of fuzzed) {
      for (const c of f.cases) {
        if (c.verdict.kind === 'ok' && !c.verdict.treatAsWithdraw) for (const p of c.verdict.announced.map(canon)) if (accepts(f.kind, p)) allowed.add(p);
      }
    }

    // ---- the speaker ----
    const port = await freePort(RS);
    const open = { 'import-policy': 'accept', 'export-policy': 'accept' };
    const config: Config = {
      global: { asn: 65000, routerId: '10.0.0.1', listen: [{ address: RS, port }] },
      rib: { ...DEFAULT_RIB, workers: 2, shards: 16, prefixes: 65536, prefixes6: 32768, paths: 262144, attributeSets: 131072 },
      neighbors: [
        ...STEADY.map((s) => ({ address: s.addr, 'remote-as': s.asn, ...open })),
        { address: SINK.addr, 'remote-as': SINK.asn, ...open },
        ...fuzzed.map(neighborConfig),
      ].map((n, i) => validateNeighbor({ passive: true, ...n }, `neighbors[${i}]`)),
    };
    const s = new Speaker(config);
    await s.start();
    cleanup.push(() => s.shutdown('test over', 200));
    for (const f of fuzzed) f.neighbor = s.neighbors.get(f.addr)!;

    const connect = async (addr: string, asn: number, caps = defaultCaps(asn)): Promise<RawPeer> => {
      const p = await RawPeer.connect(RS, port, addr);
      cleanup.push(() => p.close());
      p.sendOpen(asn, 90, addr, caps);
      await p.waitFor(MessageType.OPEN, 10_000);
      p.sendKeepalive();
      await until(() => s.neighbors.get(addr)!.state === State.Established || p.closed, 10_000, `${addr} Established`);
      return p;
    };

    // ---- the receiving peer and the steady ones ----
    const sink = await connect(SINK.addr, SINK.asn, fuzzCaps(SINK.asn));
    const view = new SinkView(sink.received);
    const steady: RawPeer[] = [];
    for (const st of STEADY) {
      const p = await connect(st.addr, st.asn);
      p.send(announce(st.asn, ...st.prefixes));
      steady.push(p);
    }
    const keepalives = setInterval(() => [sink, ...steady, ...fuzzed.map((f) => f.peer)].forEach((p) => p && !p.closed && p.sendKeepalive()), 10_000);
    cleanup.push(() => clearInterval(keepalives));
    await until(() => [...steadyPrefixes].every((p) => view.update().table.has(p)), 10_000, 'the steady routes at the receiving peer');

    // ---- the fuzzed neighbors, all at once ----
    const notifications = (p: RawPeer) => p.received.filter((m) => m.type === MessageType.NOTIFICATION).map((m) => decodeNotification(m.bytes));

    async function drive(f: Fuzzed, index: number): Promise<void> {
      const n = f.neighbor!;
      const rng = new Rng(SEED ^ (0x1000 + index));
      let onConn: FuzzCase[] = []; // what this connection was sent
      let i = 0;
      // An unexpected end of the connection: report it with what could have caused it.
      const lost = (p: RawPeer, when: string) => {
        const got = notifications(p).map((x) => `${x.code}/${x.subcode}`);
        f.problems.push(
          `${f.addr}: session ended ${when} with ${got.length ? `NOTIFICATION ${got.join(', ')}` : 'no NOTIFICATION'}, though the reference resets on none of the ${onConn.length} UPDATEs it was sent: ${onConn.map(caseText).slice(-6).join(' | ')}`,
        );
        f.model.clear();
        p.close();
        f.peer = null;
      };
      while (i < f.cases.length) {
        if (!f.peer) {
          await until(() => n.state === State.Active, 20_000, `${f.addr} listening again`);
          f.peer = await connect(f.addr, f.asn, fuzzCaps(f.asn));
          f.connections++;
          onConn = [];
          if (n.state !== State.Established) {
            f.problems.push(`${f.addr}: connection ${f.connections} did not reach Established`);
            f.peer.close();
            f.peer = null;
            continue;
          }
        }
        const p: RawPeer = f.peer;
        // The UPDATEs up to the next one that ends the session, a few per write.
        let j = i;
        while (j < f.cases.length && f.cases[j].verdict.kind === 'ok') j++;
        while (i < j && !p.closed) {
          const chunk = f.cases.slice(i, Math.min(j, i + rng.range(1, 8)));
          p.send(Buffer.concat(chunk.map((c) => c.msg)));
          for (const c of chunk) {
            onConn.push(c);
            countExpected(f.expected, c.verdict, f.kind);
            f.model.apply(c.verdict, f.kind);
          }
          f.sent += chunk.length;
          i += chunk.length;
          await new Promise((r) => setImmediate(r));
        }
        // Framed (and most likely applied) before anything that ends the session is sent.
        await until(() => n.received.update >= f.sent || p.closed || notifications(p).length > 0, 20_000, `${f.addr}: ${f.sent} UPDATEs framed`).catch(() => {});
        await sleep(20);
        if (p.closed || notifications(p).length) {
          lost(p, `after case ${i - 1}`);
          continue;
        }
        if (i === f.cases.length) break;

        // One UPDATE the reference resets the session for; from an accepting neighbor a clean
        // announcement follows in the same write, which must never be applied.
        const c = f.cases[i++];
        const want = c.verdict as { code: number; subcode: number };
        onConn.push(c);
        countExpected(f.expected, c.verdict, f.kind);
        f.sent++;
        if (f.kind === 'accept') {
          const canary = `198.18.${100 + index}.${f.canaries.length}/32`;
          f.canaries.push(canary);
          p.send(Buffer.concat([c.msg, announce(f.asn, canary)]));
        } else p.send(c.msg);
        try {
          const got = await p.notification(15_000);
          if (got.code !== want.code || got.subcode !== want.subcode) {
            f.problems.push(`${f.addr}: NOTIFICATION ${got.code}/${got.subcode} where the reference has ${want.code}/${want.subcode} for ${caseText(c)}${onConn.length > 1 ? ` (after ${onConn.length - 1} UPDATEs without error on this connection)` : ''}`);
          }
          await p.waitClosed(15_000);
          if (notifications(p).length !== 1) f.problems.push(`${f.addr}: ${notifications(p).length} NOTIFICATIONs on one connection`);
        } catch {
          f.problems.push(`${f.addr}: no NOTIFICATION ${want.code}/${want.subcode} (or the connection stayed open) for ${caseText(c)}`);
          p.close();
        }
        f.model.clear();
        f.peer = null;
      }
    }
    await Promise.all(fuzzed.map((f, i) => drive(f, i)));

    // ---- all sent: wait for the counters to settle, then check everything ----
    const statsOf = (f: Fuzzed) => actualStats(s.importStats(f.neighbor!)!);
    await until(() => s.rib!.pending === 0 && fuzzed.every((f) => JSON.stringify(statsOf(f)) === JSON.stringify(f.expected) || f.problems.length), 8_000, 'the import counters').catch(() => {});
    await until(() => s.rib!.pending === 0, 20_000, 'the pipeline idle');
    for (const f of fuzzed) {
      if (f.peer && (f.peer.closed || notifications(f.peer).length)) f.problems.push(`${f.addr}: the last connection ended (NOTIFICATION ${notifications(f.peer).map((x) => `${x.code}/${x.subcode}`).join(', ') || 'none'})`);
    }

    // What the receiving peer holds now: the steady routes and what accepted UPDATEs still announce.
    const mayHold = new Set(steadyPrefixes);
    for (const f of fuzzed) for (const p of [...f.model.held, ...f.model.open]) mayHold.add(p);
    await until(() => [...view.update().table].every((p) => mayHold.has(p)), 8_000, 'the receiving peer converged').catch(() => {});
    view.update();

    const problems = fuzzed.flatMap((f) => f.problems);
    expect.soft(problems.slice(0, 40)).toEqual([]);
    expect.soft(few(view.undecodable), 'UPDATEs the receiving peer was sent and cannot decode').toBe('none');
    // Nothing the import kept out, nothing of an UPDATE that ended a session, ever went out.
    expect.soft(few([...view.ever].filter((p) => !allowed.has(p))), 'routes sent to the receiving peer that no accepting import let in').toBe('none');
    expect.soft(few([...view.table].filter((p) => !mayHold.has(p))), 'routes the receiving peer still holds that no session announces').toBe('none');
    expect.soft(few([...steadyPrefixes].filter((p) => !view.table.has(p))), 'steady routes missing at the receiving peer').toBe('none');

    // Counters: exactly what the streams should have caused.
    const statsDiffs = fuzzed.flatMap((f) => {
      const got = statsOf(f);
      const want = f.expected;
      const keys = new Set([...Object.keys(got.resets), ...Object.keys(want.resets)]);
      const d = [
        ...(['treatAsWithdraw4', 'treatAsWithdraw6', 'prefixesTreatAsWithdraw4', 'prefixesTreatAsWithdraw6', 'attributesDiscarded', 'filtered'] as const)
          .filter((k) => got[k] !== want[k])
          .map((k) => `${k} ${got[k]}, expected ${want[k]}`),
        ...[...keys].filter((k) => (got.resets[k] ?? 0) !== (want.resets[k] ?? 0)).map((k) => `resets ${k}: ${got.resets[k] ?? 0}, expected ${want.resets[k] ?? 0}`),
      ];
      return d.length ? [`${f.addr} (import ${f.kind}): ${d.join('; ')}`] : [];
    });
    expect.soft(statsDiffs).toEqual([]);
    const resetsSent = fuzzed.reduce((a, f) => a + f.cases.filter((c) => c.verdict.kind === 'reset').length, 0);
    const resetsCounted = fuzzed.reduce((a, f) => a + Object.values(statsOf(f).resets).reduce((x, y) => x + y, 0), 0);
    expect.soft(resetsCounted).toBe(resetsSent);

    // The other sessions were never touched, and nothing failed inside the speaker.
    for (const st of STEADY) {
      const n = s.neighbors.get(st.addr)!;
      expect.soft(n.state, st.addr).toBe(State.Established);
      expect.soft(n.establishedCount, st.addr).toBe(1);
    }
    expect.soft(s.neighbors.get(SINK.addr)!.state).toBe(State.Established);
    expect.soft(s.neighbors.get(SINK.addr)!.establishedCount).toBe(1);
    for (const p of [sink, ...steady]) {
      expect.soft(p.closed).toBe(false);
      expect.soft(notifications(p)).toEqual([]);
    }
    for (const n of s.neighbors.values()) expect.soft(n.internalErrors, n.name).toBe(0);
    expect.soft(logLines.filter((l) => l.includes('internal error'))).toEqual([]);

    // The fuzzed neighbors go: the receiving peer is left with exactly the steady routes.
    for (const f of fuzzed) f.peer?.close();
    await until(() => fuzzed.every((f) => s.receivedPaths(f.neighbor!) === 0) && s.rib!.pending === 0, 8_000, 'the fuzzed paths flushed').catch(() => {});
    await until(() => view.update().table.size === steadyPrefixes.size, 8_000, 'only the steady routes left').catch(() => {});
    expect.soft(few([...view.update().table].filter((p) => !steadyPrefixes.has(p))), 'routes left at the receiving peer after every fuzzed session went').toBe('none');
    expect.soft(few([...steadyPrefixes].filter((p) => !view.table.has(p))), 'steady routes missing at the receiving peer').toBe('none');
    for (const f of fuzzed) expect.soft(s.receivedPaths(f.neighbor!), f.addr).toBe(0);
    for (const st of STEADY) expect.soft(s.neighbors.get(st.addr)!.state).toBe(State.Established);

    const total = fuzzed.reduce((a, f) => a + f.cases.length, 0);
    const connections = fuzzed.reduce((a, f) => a + f.connections, 0);
    process.stderr.write(`sessions fuzz: ${total} UPDATEs (${resetsSent} resets) over ${connections} connections of ${FUZZ_PEERS} neighbors\n`);
  }, 120_000);
});
