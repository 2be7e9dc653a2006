// Collector mode (`[rib] mode = "collector"`): every peer's Adj-RIB-In kept, no best path chosen,
// nothing advertised (a receiving peer gets End-of-RIB only), and every check of an UPDATE as in
// speaker mode: RFC 7606 answers, max-prefix, graceful restart's stale paths. Seen through the
// management API as an operator sees it.
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../../src/api/server.js';
import type { RibMode } from '../../src/config/schema.js';
import { State } from '../../src/neighbor/fsm.js';
import { AttrType, CapabilityCode, decodeUpdate, encodeUpdate, MessageType, type Capability, type NotificationMessage } from '../../src/packet/index.js';
import { captureLog, defaultCaps, RawPeer, sleep, until } from '../helpers/rawPeer.js';
import { announce, attrs, OPEN_POLICY, startLab, T, useCleanup } from '../helpers/lab.js';

const HOST = '127.0.100.1';
const A = '127.0.100.2'; // AS 65102
const B = '127.0.100.3'; // AS 65103
const SINK = '127.0.100.9'; // AS 65109: would receive what ribstorm advertises
const TOKEN = 'collector-token-0123';
const add = useCleanup();
beforeAll(() => {
  captureLog();
});

async function lab(neighbors: Array<Record<string, unknown>>, mode: RibMode = 'collector') {
  const l = await startLab(add, HOST, neighbors, { mode });
  const api = new ApiServer(l.speaker, { token: TOKEN });
  const port = await api.listen('127.0.0.1', 0);
  add(() => api.close());
  const get = async (path: string) => (await fetch(`http://127.0.0.1:${port}${path}`)).text();
  const post = (path: string, body: unknown) =>
    fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const paths = (addr: string) => l.speaker.receivedPaths(l.speaker.neighbors.get(addr)!);
  return { ...l, get, post, paths };
}

const PREFIXES = Array.from({ length: 40 }, (_, i) => `10.100.${i}.0/24`);

describe('collector mode', () => {
  it('holds both peers\' paths for every prefix, none chosen best, and advertises nothing to a third peer', async () => {
    const l = await lab([
      { address: A, 'remote-as': 65102, ...OPEN_POLICY },
      { address: B, 'remote-as': 65103, ...OPEN_POLICY },
      { address: SINK, 'remote-as': 65109, ...OPEN_POLICY },
    ]);
    const sink = await l.peer(SINK, 65109);
    const a = await l.peer(A, 65102);
    const b = await l.peer(B, 65103);
    a.send(announce(attrs([65102, 3356]), PREFIXES));
    b.send(announce(attrs([65103, 174, 3356]), PREFIXES, { asn4: true }));
    // A withdrawal still applies, to its peer's path alone.
    a.send(announce(attrs([65102]), ['10.100.200.0/24']));
    a.send(encodeUpdate({ withdrawn: [{ prefix: '10.100.200.0/24' }], attributes: [], nlri: [] }, { asn4: true }));
    await until(() => l.paths(A) === 40 && l.paths(B) === 40, 5000, 'both tables held');

    const rows = (await l.get('/rib?family=ipv4')).trim().split('\n').map((r) => JSON.parse(r) as { prefix: string; fromPeer: string; best: boolean; reason?: string });
    expect(rows).toHaveLength(80);
    for (const p of PREFIXES) expect(rows.filter((r) => r.prefix === p).map((r) => r.fromPeer).sort()).toEqual([A, B]);
    expect(rows.every((r) => r.best === false && r.reason === undefined)).toBe(true);
    const exact = JSON.parse(await l.get('/rib?prefix=10.100.7.0/24&match=exact'));
    expect(exact.routes[0].paths.map((p: { path: string }) => p.path).sort()).toEqual(['65102 3356', '65103 174 3356']);

    const summary = JSON.parse(await l.get('/rib/summary'));
    expect(summary.ipv4Unicast).toMatchObject({ prefixes: 40, bestPaths: 0, paths: 80 });
    const n = JSON.parse(await l.get('/neighbors'));
    expect(n.peers[A]).toMatchObject({ pfxRcd: 40, pfxSnt: 0 });
    expect(n.peers[B]).toMatchObject({ pfxRcd: 40, pfxSnt: 0 });
    expect(n.peers[SINK]).toMatchObject({ state: 'Established', pfxRcd: 0, pfxSnt: 0 });

    // The third peer got its session and End-of-RIB (IPv4 unicast: an empty UPDATE), nothing else.
    await sleep(300);
    const updates = sink.received.filter((m) => m.type === MessageType.UPDATE).map((m) => decodeUpdate(m.bytes, { asn4: true }));
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ withdrawn: [], attributes: [], nlri: [] });
    expect(l.state(SINK)).toBe(State.Established);

    // Nothing is originated either.
    const r = await l.post('/routes', { routes: [{ prefix: '198.51.100.0/24', nextHop: '192.0.2.1' }] });
    expect(r.status).toBe(409);
    expect(((await r.json()) as { field: string }).field).toBe('rib.mode');
  });

  it('answers a malformed UPDATE with the same NOTIFICATION as speaker mode, and keeps the other sessions', async () => {
    const got: Record<RibMode, NotificationMessage | null> = { speaker: null, collector: null };
    for (const mode of ['speaker', 'collector'] as const) {
      const l = await lab([{ address: A, 'remote-as': 65102, ...OPEN_POLICY }, { address: B, 'remote-as': 65103, ...OPEN_POLICY }], mode);
      const good = await l.peer(B, 65103);
      const bad = await l.peer(A, 65102);
      good.send(announce(attrs([65103]), ['10.100.1.0/24']));
      // An unrecognized attribute marked well-known (not optional): RFC 4271 §6.3.
      bad.send(announce(attrs([65102], [{ type: 77, flags: T, data: Uint8Array.of(1) }]), ['10.100.2.0/24']));
      got[mode] = await bad.notification();
      await until(() => l.paths(B) === 1, 5000, 'the good peer\'s path');
      expect(l.paths(A)).toBe(0);
      expect(l.state(B)).toBe(State.Established);
      // Treat-as-withdraw (RFC 7606 §7.1, a bad ORIGIN) is counted and keeps the session.
      const origin = attrs([65103]);
      (origin[0] as { origin: number }).origin = 9;
      good.send(announce(origin, ['10.100.1.0/24']));
      await until(() => l.paths(B) === 0, 5000, 'the path withdrawn');
      expect(l.speaker.importStats(l.speaker.neighbors.get(B)!)!.ipv4Unicast.treatAsWithdraw).toBeGreaterThan(0);
      expect(l.state(B)).toBe(State.Established);
      await l.speaker.shutdown('next mode', 100);
    }
    expect(got.collector).toMatchObject({ code: 3, subcode: 2 });
    expect(got.collector).toEqual(got.speaker);
  });

  it('ends a session past max-prefix with Cease / Maximum Number of Prefixes Reached', async () => {
    const l = await lab([{ address: A, 'remote-as': 65102, ...OPEN_POLICY, 'max-prefix': { limit: 3, action: 'restart', 'restart-after': 60 } }]);
    const a = await l.peer(A, 65102);
    a.send(announce(attrs([65102]), PREFIXES.slice(0, 4)));
    const n = await a.notification();
    expect([n.code, n.subcode]).toEqual([6, 1]);
    await until(() => l.paths(A) === 0, 5000, 'its paths flushed');
  });

  it('keeps a restarting peer\'s paths stale until its End-of-RIB sweeps what it did not announce again (RFC 4724)', async () => {
    const l = await lab([{ address: A, 'remote-as': 65102, ...OPEN_POLICY, 'idle-hold-time': 0 }]);
    const gr: Capability = { code: CapabilityCode.GracefulRestart, restarting: false, notification: false, restartTime: 30, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] };
    const connect = async () => {
      const p = await RawPeer.connect(HOST, l.port, A);
      add(() => p.close());
      p.sendOpen(65102, 90, A, [...defaultCaps(65102), gr]);
      await p.waitFor(MessageType.OPEN);
      p.sendKeepalive();
      await until(() => l.state(A) === State.Established, 5000, 'Established');
      return p;
    };
    let p = await connect();
    p.send(announce(attrs([65102]), PREFIXES.slice(0, 2)));
    await until(() => l.paths(A) === 2, 5000, 'both paths');
    p.socket.destroy(); // no NOTIFICATION: the peer restarts
    await until(() => l.state(A) !== State.Established, 5000, 'the session down');
    await sleep(200);
    const stale = (await l.get('/rib?family=ipv4')).trim().split('\n').map((r) => JSON.parse(r) as { stale: boolean });
    expect(stale.map((r) => r.stale)).toEqual([true, true]);
    p = await connect();
    p.send(announce(attrs([65102]), PREFIXES.slice(0, 1)));
    p.send(encodeUpdate({ withdrawn: [], attributes: [], nlri: [] }, { asn4: true })); // End-of-RIB
    await until(() => l.paths(A) === 1, 5000, 'the stale path swept');
    const rows = (await l.get('/rib?family=ipv4')).trim().split('\n').map((r) => JSON.parse(r) as { prefix: string; stale: boolean });
    expect(rows).toMatchObject([{ prefix: PREFIXES[0], stale: false }]);
    expect(p.received.some((m) => m.type === MessageType.UPDATE && decodeUpdate(m.bytes, { asn4: true }).attributes.some((x) => x.type === AttrType.AS_PATH))).toBe(false);
  });
});
