// Sessions against a scripted peer: timers, OPEN checks, error NOTIFICATIONs, collisions.
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { DEFAULT_RIB, validateNeighbor, type Config } from '../../src/config/schema.js';
import { State } from '../../src/neighbor/fsm.js';
import {
  CapabilityCode,
  decodeNotification,
  decodeRouteRefresh,
  encodeMessage,
  encodeRouteRefresh,
  encodeUpdate,
  KEEPALIVE,
  MessageType,
  Role,
  RouteRefreshSubtype,
  shutdownCommunication,
  endOfRibFamily,
  type Capability,
} from '../../src/packet/index.js';
import { Speaker } from '../../src/speaker/speaker.js';
import { freePort } from '../helpers/env.js';
import { captureLog, defaultCaps, listen, RawPeer, sleep, until } from '../helpers/rawPeer.js';

const RS = '127.0.2.1'; // ribstorm
/** ribstorm's listening port, free on RS, found anew for each test. */
let PORT = 0;
/** When each scripted peer sent its last message of the OPEN exchange (its KEEPALIVE). */
const keepaliveSentAt = new WeakMap<RawPeer, number>();
let logLines: string[] = [];
const cleanup: Array<() => unknown> = [];

beforeAll(() => {
  logLines = captureLog();
});

beforeEach(async () => {
  PORT = await freePort(RS);
});

afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function speaker(neighbors: Array<Record<string, unknown>>, listenOn = true): Promise<Speaker> {
  const config: Config = {
    global: { asn: 65001, routerId: '10.0.0.1', listen: listenOn ? [{ address: RS, port: PORT }] : [] },
    rib: { ...DEFAULT_RIB, workers: 1 },
    neighbors: neighbors.map((n, i) => validateNeighbor({ 'connect-retry': 1, 'idle-hold-time': 1, ...n }, `n${i}`)),
  };
  const s = new Speaker(config);
  await s.start();
  cleanup.push(() => s.shutdown('test over', 200));
  return s;
}

/** A raw peer at `addr` that connects to the passive speaker and completes the OPEN exchange. */
async function establish(s: Speaker, addr: string, asn: number, hold = 90, caps?: Capability[]): Promise<RawPeer> {
  const p = await RawPeer.connect(RS, PORT, addr);
  cleanup.push(() => p.close());
  p.sendOpen(asn, hold, addr, caps ?? defaultCaps(asn));
  await p.waitFor(MessageType.OPEN);
  keepaliveSentAt.set(p, Date.now());
  p.sendKeepalive();
  await until(() => s.neighbors.get(addr)!.state === State.Established, 10_000, 'Established');
  return p;
}

describe('session with a scripted peer', () => {
  it('reaches Established, sends End-of-RIB and keepalives at a third of the negotiated hold time', async () => {
    const s = await speaker([{ address: '127.0.2.2', 'remote-as': 65002, passive: true, 'hold-time': 90 }]);
    const p = await establish(s, '127.0.2.2', 65002, 3);
    const n = s.neighbors.get('127.0.2.2')!;
    expect(n.session!.holdTime).toBe(3);
    expect(n.session!.keepalive).toBe(1);
    expect(n.session!.families).toEqual(['ipv4-unicast']);
    const eor = await p.waitFor(MessageType.UPDATE);
    expect(endOfRibFamily(eor.bytes)).toEqual({ afi: 1, safi: 1 });
    const ticker = setInterval(() => p.sendKeepalive(), 500);
    cleanup.push(() => clearInterval(ticker));
    // ribstorm's KEEPALIVEs after the one that answered our OPEN: a keepalive time (1 s) apart,
    // never closer than RFC 4271 §10's 0.75 jitter allows and never a hold time (3 s) apart.
    await p.waitFor(MessageType.KEEPALIVE, 20_000, 5);
    const at = p.received.filter((m) => m.type === MessageType.KEEPALIVE).slice(1, 5).map((m) => m.at);
    for (let i = 1; i < at.length; i++) {
      expect(at[i] - at[i - 1], `KEEPALIVE ${i} to ${i + 1}`).toBeGreaterThanOrEqual(750);
      expect(at[i] - at[i - 1], `KEEPALIVE ${i} to ${i + 1}`).toBeLessThan(3000);
    }
    expect(n.state).toBe(State.Established);
  });

  it('sends Hold Timer Expired when the peer goes silent', async () => {
    const s = await speaker([{ address: '127.0.2.3', 'remote-as': 65003, passive: true }]);
    const p = await establish(s, '127.0.2.3', 65003, 3);
    const n = await p.notification(20_000);
    expect([n.code, n.subcode]).toEqual([4, 0]);
    // Not before the 3 s hold time has run from our last message (the clock's millisecond aside).
    const notifiedAt = p.received.find((m) => m.type === MessageType.NOTIFICATION)!.at;
    expect(notifiedAt - keepaliveSentAt.get(p)!).toBeGreaterThanOrEqual(2990);
    await p.waitClosed();
    expect(s.neighbors.get('127.0.2.3')!.lastError!.code).toBe(4);
  });

  it('checks the OPEN: Bad Peer AS, Unacceptable Hold Time, Bad BGP Identifier, Role Mismatch', async () => {
    const s = await speaker([
      { address: '127.0.2.4', 'remote-as': 65004, passive: true },
      { address: '127.0.2.5', 'remote-as': 65001, passive: true },
      { address: '127.0.2.6', 'remote-as': 65006, passive: true, role: 'provider' },
    ]);
    const cases: Array<[string, number, number, string, Capability[] | undefined, number[]]> = [
      ['127.0.2.4', 65099, 90, '10.0.0.4', undefined, [2, 2]],
      ['127.0.2.4', 65004, 2, '10.0.0.4', undefined, [2, 6]],
      ['127.0.2.4', 65004, 90, '0.0.0.0', undefined, [2, 3]],
      ['127.0.2.5', 65001, 90, '10.0.0.1', undefined, [2, 3]], // iBGP with our own identifier
      ['127.0.2.6', 65006, 90, '10.0.0.6', [...defaultCaps(65006), { code: CapabilityCode.Role, role: Role.Peer }], [2, 11]],
    ];
    for (const [addr, asn, hold, id, caps, expected] of cases) {
      await until(() => s.neighbors.get(addr)!.state === State.Active, 5000, `${addr} back in Active`);
      const p = await RawPeer.connect(RS, PORT, addr);
      cleanup.push(() => p.close());
      p.sendOpen(asn, hold, id, caps);
      const n = await p.notification();
      expect([n.code, n.subcode], `${addr} AS${asn} hold ${hold} id ${id}`).toEqual(expected);
      await p.waitClosed();
    }
    // The peer-AS error carries the 2-octet AS field it refused.
    expect(logLines.some((l) => l.includes('OPEN Message Error / Bad Peer AS (2/2) data fe4b'))).toBe(true);
  });

  it('answers a header error with its NOTIFICATION and leaves other peers alone', async () => {
    const s = await speaker([
      { address: '127.0.2.7', 'remote-as': 65007, passive: true },
      { address: '127.0.2.8', 'remote-as': 65008, passive: true },
    ]);
    const good = await establish(s, '127.0.2.7', 65007);
    const bad = await establish(s, '127.0.2.8', 65008);
    const broken = KEEPALIVE.slice();
    broken[0] = 0;
    bad.send(broken);
    const n = await bad.notification();
    expect([n.code, n.subcode]).toEqual([1, 1]);
    await bad.waitClosed();
    good.sendKeepalive();
    await sleep(100);
    expect(s.neighbors.get('127.0.2.7')!.state).toBe(State.Established);
    expect(good.closed).toBe(false);
  });

  it('answers an UPDATE in OpenConfirm with a Finite State Machine Error (RFC 6608)', async () => {
    const s = await speaker([{ address: '127.0.2.9', 'remote-as': 65009, passive: true }]);
    const p = await RawPeer.connect(RS, PORT, '127.0.2.9');
    cleanup.push(() => p.close());
    p.sendOpen(65009, 90, '10.0.0.9');
    await p.waitFor(MessageType.KEEPALIVE);
    p.send(encodeUpdate({ withdrawn: [], attributes: [], nlri: [] }, { asn4: true }));
    const n = await p.notification();
    expect([n.code, n.subcode]).toEqual([5, 2]);
    expect(s.neighbors.get('127.0.2.9')!.state).not.toBe(State.Established);
  });

  it('answers ROUTE-REFRESH: BoRR/EoRR with enhanced refresh, Invalid Message Length for a bad one', async () => {
    const s = await speaker([{ address: '127.0.2.10', 'remote-as': 65010, passive: true }]);
    const caps = [...defaultCaps(65010), { code: CapabilityCode.EnhancedRouteRefresh } as Capability];
    const p = await establish(s, '127.0.2.10', 65010, 90, caps);
    p.send(encodeRouteRefresh({ afi: 1, safi: 1, subtype: RouteRefreshSubtype.Normal }));
    const borr = decodeRouteRefresh((await p.waitFor(MessageType.ROUTE_REFRESH, 3000, 1)).bytes);
    const eorr = decodeRouteRefresh((await p.waitFor(MessageType.ROUTE_REFRESH, 3000, 2)).bytes);
    expect([borr.subtype, eorr.subtype]).toEqual([RouteRefreshSubtype.BoRR, RouteRefreshSubtype.EoRR]);
    const long = encodeMessage(MessageType.ROUTE_REFRESH, Uint8Array.of(0, 1, 0, 1, 0));
    p.send(long);
    const n = await p.notification();
    expect([n.code, n.subcode]).toEqual([7, 1]);
    expect([...n.data]).toEqual([...long]);
  });

  it('sends Cease / Administrative Shutdown with the shutdown communication on stop', async () => {
    const s = await speaker([{ address: '127.0.2.11', 'remote-as': 65011, passive: true }]);
    const p = await establish(s, '127.0.2.11', 65011);
    await s.shutdown('planned maintenance, ticket 42');
    const n = await p.notification();
    expect([n.code, n.subcode]).toEqual([6, 2]);
    expect(shutdownCommunication(n)).toBe('planned maintenance, ticket 42');
  });

  it('records the peer\'s NOTIFICATION with its code and text', async () => {
    const s = await speaker([{ address: '127.0.2.12', 'remote-as': 65012, passive: true }]);
    const p = await establish(s, '127.0.2.12', 65012);
    const text = Buffer.from('rebooting');
    p.send(encodeMessage(MessageType.NOTIFICATION, Uint8Array.of(6, 4, text.length, ...text)));
    const n = s.neighbors.get('127.0.2.12')!;
    await until(() => n.state !== State.Established);
    expect(n.lastError).toMatchObject({ direction: 'received', code: 6, subcode: 4 });
    expect(n.lastError!.text).toContain('"rebooting"');
  });
});

describe('connection collision (RFC 4271 §6.8)', () => {
  async function collide(peerId: string): Promise<{ outbound: RawPeer; inbound: RawPeer; s: Speaker }> {
    const addr = '127.0.2.20';
    const peerPort = await freePort(addr);
    const l = await listen(addr, peerPort);
    cleanup.push(() => l.server.close());
    const s = await speaker([{ address: addr, 'remote-as': 65020, port: peerPort }]);
    const outbound = await l.next(); // ribstorm connected to us and sent its OPEN
    cleanup.push(() => outbound.close());
    await outbound.waitFor(MessageType.OPEN);
    const inbound = await RawPeer.connect(RS, PORT, addr);
    cleanup.push(() => inbound.close());
    await inbound.waitFor(MessageType.OPEN);
    outbound.sendOpen(65020, 90, peerId);
    inbound.sendOpen(65020, 90, peerId);
    return { outbound, inbound, s };
  }

  it('keeps the peer\'s connection when the peer\'s identifier is higher', async () => {
    const { outbound, inbound, s } = await collide('10.0.0.200');
    const n = decodeNotification((await outbound.waitFor(MessageType.NOTIFICATION)).bytes);
    expect([n.code, n.subcode]).toEqual([6, 7]);
    await inbound.waitFor(MessageType.KEEPALIVE);
    inbound.sendKeepalive();
    await until(() => s.neighbors.get('127.0.2.20')!.state === State.Established);
    expect(inbound.received.some((m) => m.type === MessageType.NOTIFICATION)).toBe(false);
  });

  it('keeps its own connection when its identifier is higher', async () => {
    const { outbound, inbound, s } = await collide('9.0.0.1');
    const n = decodeNotification((await inbound.waitFor(MessageType.NOTIFICATION)).bytes);
    expect([n.code, n.subcode]).toEqual([6, 7]);
    await outbound.waitFor(MessageType.KEEPALIVE);
    outbound.sendKeepalive();
    await until(() => s.neighbors.get('127.0.2.20')!.state === State.Established);
  });
});

describe('timers that protect the speaker', () => {
  it('drops a peer that stops reading once the send hold timer runs out (RFC 9687)', async () => {
    const s = await speaker([{ address: '127.0.2.30', 'remote-as': 65030, passive: true, 'hold-time': 0, 'send-hold-time': 2 }]);
    const p = await establish(s, '127.0.2.30', 65030, 0);
    p.socket.pause(); // stop reading: the kernel buffers fill, then ribstorm's writes queue up
    const n = s.neighbors.get('127.0.2.30')!;
    const filler = encodeUpdate({ withdrawn: [], attributes: [{ type: 99, flags: 0xd0, data: new Uint8Array(4000) }], nlri: [] }, { asn4: true });
    const t0 = Date.now();
    while (n.state === State.Established && Date.now() - t0 < 10_000) {
      for (let i = 0; i < 256; i++) n.sendUpdates(filler, 1);
      await sleep(20);
    }
    expect(n.state).not.toBe(State.Established);
    expect(n.lastError!.code).toBe(8);
    expect(Date.now() - t0).toBeGreaterThan(1500);
  });

  it('grows the idle hold time for a peer that keeps failing', async () => {
    const addr = '127.0.2.31';
    // The peer refuses every session: Cease / Connection Rejected after our OPEN.
    const server = net.createServer((sock) => {
      sock.on('error', () => {});
      sock.once('data', () => sock.end(encodeMessage(MessageType.NOTIFICATION, Uint8Array.of(6, 5))));
    });
    const peerPort = await freePort(addr);
    await new Promise<void>((r) => server.listen(peerPort, addr, r));
    cleanup.push(() => server.close());
    await speaker([{ address: addr, 'remote-as': 65031, port: peerPort, 'idle-hold-time': 1 }], false);
    await until(() => logLines.filter((l) => l.includes(`${addr}`) && l.includes('idle hold')).length >= 3, 12_000, 'three idle holds');
    const holds = logLines.filter((l) => l.includes(`${addr}`) && l.includes('idle hold')).map((l) => l.match(/idle hold ([\d.]+)s/)![1]);
    expect(holds.slice(0, 3)).toEqual(['1', '2', '4']);
  }, 20_000);
});
