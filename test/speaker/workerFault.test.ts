// A RIB worker that throws or exits while it applies one peer's UPDATEs (RIBSTORM_FAULT,
// src/rib/fault.ts): the speaker lives on, that peer alone is reset with Cease / Out of
// Resources and its routes leave the RIB, the other peers keep theirs and are still heard,
// and once the peer is back and has announced again the Loc-RIB equals the reference RIB.
// The fault is logged and counted (GET /metrics).
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../../src/api/server.js';
import { State } from '../../src/neighbor/fsm.js';
import { AsPathSegmentType, AttrType, CeaseSubcode, encodeUpdate, ipv4ToNumber, type PathAttribute } from '../../src/packet/index.js';
import { PEER_PATHS, PEER_WORDS } from '../../src/rib/memory.js';
import type { PeerInfo } from '../../src/rib/pipeline.js';
import { countPaths, locRib } from '../../src/rib/query.js';
import { ReferenceRib } from '../../src/rib/reference.js';
import { captureLog, until } from '../helpers/rawPeer.js';
import { O, OPEN_POLICY, startLab, T, useCleanup } from '../helpers/lab.js';

const HOST = '127.0.57.100';
const ADDRS = ['127.0.57.1', '127.0.57.2', '127.0.57.3'];
const ASNS = [65171, 65172, 65173];
const B = 1; // the peer whose batch fails: RIB peer index 2 (neighbors are indexed from 1 in config order)
const add = useCleanup();
let log: string[] = [];
beforeAll(() => {
  log = captureLog();
});

const POOL = Array.from({ length: 96 }, (_, i) => `10.57.${i}.0/24`);

function update(peer: number, variant: number, nlri: string[], withdrawn: string[] = []): Uint8Array {
  const attrs: PathAttribute[] = [
    { type: AttrType.ORIGIN, flags: T, origin: 0 },
    { type: AttrType.AS_PATH, flags: T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [ASNS[peer], ...Array.from({ length: peer === B ? 0 : 1 + (variant % 2) }, () => 3356)] }] },
    { type: AttrType.NEXT_HOP, flags: T, nextHop: `198.18.57.${peer + 1}` },
    { type: AttrType.MULTI_EXIT_DISC, flags: O, med: variant * 10 },
  ];
  return encodeUpdate({ withdrawn: withdrawn.map((prefix) => ({ prefix })), attributes: nlri.length ? attrs : [], nlri: nlri.map((prefix) => ({ prefix })) }, { asn4: true, ebgp: true });
}

/**
 * A peer's table: 4 UPDATEs over 64 of the pool's prefixes, each peer's different but
 * overlapping; the faulty peer's paths are the shortest, so the best where it has one.
 */
const table = (peer: number) => [0, 1, 2, 3].map((k) => update(peer, k, POOL.slice(peer * 16 + k * 16, peer * 16 + k * 16 + 16)));

describe('a RIB worker fault on one peer', () => {
  it.each(['shard', 'exit', 'throw'] as const)('%s: only that peer is reset; it re-learns; the Loc-RIB equals the reference', async (how) => {
    // The faulty peer's 5th UPDATE, the first after its table.
    process.env.RIBSTORM_FAULT = `${how}:2:5`;
    let lab: Awaited<ReturnType<typeof startLab>>;
    try {
      lab = await startLab(
        add,
        HOST,
        ADDRS.map((address, i) => ({ address, 'remote-as': ASNS[i], 'idle-hold-time': 0, ...OPEN_POLICY })),
      );
    } finally {
      delete process.env.RIBSTORM_FAULT;
    }
    const speaker = lab.speaker;
    const rib = speaker.rib!;
    const neighbor = (i: number) => speaker.neighbors.get(ADDRS[i])!;
    const held = (i: number) => countPaths(rib.views, speaker.peerIndex(neighbor(i))).paths;
    const peers = await Promise.all(ADDRS.map((a, i) => lab.peer(a, ASNS[i])));
    const info = new Map<number, PeerInfo>(ADDRS.map((a, i) => [speaker.peerIndex(neighbor(i))!, { asn: ASNS[i], routerId: ipv4ToNumber(a), address: ipv4ToNumber(a), ibgp: false }]));
    const ref = new ReferenceRib(65000, info);
    const ctx = { asn4: true, ebgp: true, addPath: false };
    const send = (i: number, msgs: Uint8Array[], toRef = true) => {
      for (const m of msgs) {
        peers[i].send(m);
        if (toRef) ref.apply(speaker.peerIndex(neighbor(i))!, ctx, m);
      }
    };
    for (let i = 0; i < 3; i++) send(i, table(i));
    await until(() => [0, 1, 2].every((i) => speaker.receivedPaths(neighbor(i)) === 64 && held(i) === 64), 5000, 'every table in the RIB');
    const l0 = log.length;
    const fromB = () => [...locRib(rib.views).values()].filter((e) => e.peer === speaker.peerIndex(neighbor(B))).length;
    expect(fromB(), 'the faulty peer has the best path of every prefix it sent').toBe(64);

    // The batch that fails: the faulty peer changes half its routes and withdraws others.
    send(B, [update(B, 7, POOL.slice(16, 48), POOL.slice(48, 64))], false);
    const n = await peers[B].notification(5000);
    expect({ code: n.code, subcode: n.subcode }, 'Cease / Out of Resources').toEqual({ code: 6, subcode: CeaseSubcode.OutOfResources });
    ref.flush(speaker.peerIndex(neighbor(B))!);
    await until(() => held(B) === 0 && speaker.receivedPaths(neighbor(B)) === 0, 5000, "the faulty peer's routes gone");
    expect(rib.views.peers[speaker.peerIndex(neighbor(B))! * PEER_WORDS + PEER_PATHS]).toBe(0);

    // The others stay up with all their routes, and the RIB still applies what they send.
    for (const i of [0, 2]) {
      expect(lab.state(ADDRS[i])).toBe(State.Established);
      expect(held(i)).toBe(64);
      expect(peers[i].received.filter((m) => m.type === 3)).toEqual([]);
    }
    send(2, [update(2, 1, ['10.157.0.0/16'])]);
    await until(() => locRib(rib.views).has('10.157.0.0/16'), 5000, "a later announcement of another peer in the Loc-RIB (no stall)");

    // The faulty peer comes back and announces its table again.
    peers[B].close();
    await until(() => lab.state(ADDRS[B]) !== State.Established, 5000, 'the old session gone');
    const again = await lab.peer(ADDRS[B], ASNS[B]);
    peers[B] = again;
    send(B, table(B));
    await until(() => held(B) === 64 && speaker.receivedPaths(neighbor(B)) === 64, 5000, 'the faulty peer re-learnt');
    expect(Object.fromEntries([...locRib(rib.views)].sort())).toEqual(Object.fromEntries([...ref.locRib()].sort()));
    for (const i of [0, 2]) expect(speaker.receivedPaths(neighbor(i)), `peer ${i}'s count`).toBe(held(i));

    // Logged, naming the peer, and counted.
    expect(rib.faults).toBe(1);
    const lines = log.slice(l0).filter((l) => /Z RIB worker fault: /.test(l));
    expect(lines.length, lines.join('\n')).toBe(1);
    expect(lines[0]).toContain(neighbor(B).name);
    const api = new ApiServer(speaker, { native: false });
    const port = await api.listen('127.0.0.1', 0);
    add(() => api.close());
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^ribstorm_rib_worker_faults_total 1$/m);
  }, 30_000);
});
