// The NATS JetStream feed against a real nats-server (its own store directory and port): three
// collectors with two feeding peers each publish to one stream (one of them as msgpack), and a
// consumer rebuilds all six peers; it must hold every path with the same best paths as one
// speaker fed all six directly (overlapping prefixes, equal-length paths decided by router id,
// withdrawals, an unknown transitive attribute). Then the server goes away and stalls: the
// collector keeps ingesting, says so in one line naming the server, drops what does not fit
// its buffer (counted), and delivers what it held once the server is back; a consumer whose
// server restarts reads on from where it was.
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RibView } from '../../src/api/ribView.js';
import { ApiServer } from '../../src/api/server.js';
import { speakerPeers } from '../../src/mrt/tableDump.js';
import { main } from '../../src/cli/main.js';
import { DEFAULT_RIB, validateConfig, type Config } from '../../src/config/schema.js';
import { natsDefaults, type NatsConfig } from '../../src/config/nats.js';
import { hasNatsServer, NatsServer } from '../../src/harness/daemons/natsServer.js';
import { NatsConsumer } from '../../src/nats/consume.js';
import { NatsFeed } from '../../src/nats/feed.js';
import { AttrType, type PathAttribute } from '../../src/packet/index.js';
import { Speaker } from '../../src/speaker/speaker.js';
import { freePort, reportSkipped } from '../helpers/env.js';
import { announce, attrs, O, OPEN_POLICY, startLab, T, useCleanup, withdraw, type Lab } from '../helpers/lab.js';
import { captureLog, sleep, until, type RawPeer } from '../helpers/rawPeer.js';

const add = useCleanup();
let logLines: string[] = [];
beforeAll(() => {
  logLines = captureLog();
});

const haveServer = hasNatsServer();
const required = process.env.RIBSTORM_REQUIRE_INTEROP === '1';
if (!haveServer) reportSkipped('nats', ['the NATS feed: nats-server is not installed (apt install nats-server)']);

/** Prefixes every peer announces, and each peer's own. */
const SHARED = 1500;
const OWN = 200;
const RIB = { workers: 1, shards: 8, prefixes: 8192, paths: 65536, attributeSets: 16384 };

let server: NatsServer | null = null;
afterAll(async () => {
  await server?.stop();
});

async function natsServer(): Promise<NatsServer> {
  if (server) return server;
  server = await NatsServer.create();
  await server.start();
  return server;
}

/** Peer j's routes: overlapping prefixes with paths of 1 to 3 ASes, so that length and router id decide. */
function routes(j: number): Uint8Array[] {
  const asn = 65101 + j;
  const groups = new Map<string, { a: PathAttribute[]; prefixes: string[] }>();
  const put = (key: string, a: () => PathAttribute[], prefix: string) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { a: a(), prefixes: [] }));
    g.prefixes.push(prefix);
  };
  for (let k = 0; k < SHARED; k++) {
    const len = (k + j) % 3;
    const origin = 64512 + (k % 4);
    // Every fifth shared prefix carries an attribute nobody knows, passed on as it came.
    const odd = k % 5 === 0;
    put(`${len}/${origin}/${odd}`, () => attrs([asn, ...Array<number>(len).fill(64999), origin], odd ? [{ type: 240, flags: O | T, data: Uint8Array.of(1, 2, 3, j) }] : [], `198.18.0.${j + 1}`), `10.${k >> 8}.${k & 255}.0/24`);
  }
  for (let k = 0; k < OWN; k++) put('own', () => attrs([asn]), `20.${j}.${k}.0/24`);
  const out: Uint8Array[] = [];
  for (const g of groups.values()) for (let i = 0; i < g.prefixes.length; i += 150) out.push(announce(g.a, g.prefixes.slice(i, i + 150)));
  // Some withdrawn again: order must hold on the way through the stream.
  if (j % 2 === 0) out.push(withdraw(Array.from({ length: SHARED / 50 }, (_, i) => `10.${(i * 50) >> 8}.${(i * 50) & 255}.0/24`)));
  return out;
}

/** Every path a speaker holds: prefix | peer | attribute bytes | best. */
async function table(s: Speaker, rename: (peer: string) => string = (p) => p): Promise<string[]> {
  const v = new RibView(s);
  const names = v.peerNames();
  const rows: string[] = [];
  await v.walk(v.familiesOf(undefined), undefined, (prefix, paths) => {
    for (const p of paths) rows.push(`${prefix}|${rename(names.get(p.peer)?.[0] ?? '?')}|${Buffer.from(v.attributeBlock(p.attr)).toString('hex')}|${p.best ? 'best' : ''}`);
  }, async () => true);
  return rows.sort();
}

function consumerSpeaker(): Speaker {
  const config: Config = { global: { asn: 65000, routerId: '127.0.73.99', listen: [] }, rib: { ...DEFAULT_RIB, ...RIB }, neighbors: [] };
  const s = new Speaker(config);
  add(() => s.shutdown('test over', 0));
  return s;
}

function feed(lab: Lab, config: NatsConfig): NatsFeed {
  const f = new NatsFeed(lab.speaker, config);
  f.start();
  add(() => f.close());
  return f;
}

const pathCount = (s: Speaker) => new RibView(s).counts().paths;

describe.skipIf(!haveServer)('NATS JetStream feed', () => {
  it('three collectors publish, one consumer holds every path with the same best paths as one speaker fed all six peers', async () => {
    const nats = await natsServer();
    const host = (c: number) => `127.0.73.${10 * (c + 1)}`;
    const peerAddr = (j: number) => `127.0.73.${10 * (Math.floor(j / 2) + 1) + 1 + (j % 2)}`;
    const neighbor = (j: number) => ({ address: peerAddr(j), 'remote-as': 65101 + j, ...OPEN_POLICY });
    const collectors: Lab[] = [];
    for (let c = 0; c < 3; c++) {
      const lab = await startLab(add, host(c), [neighbor(2 * c), neighbor(2 * c + 1)], RIB);
      feed(lab, { ...natsDefaults(nats.url), stream: 'FEEDTEST', collector: `c${c}`, format: c === 2 ? 'msgpack' : 'json' });
      collectors.push(lab);
    }
    const ref = await startLab(add, '127.0.73.100', Array.from({ length: 6 }, (_, j) => neighbor(j)), RIB);
    const peers: RawPeer[] = [];
    for (let j = 0; j < 6; j++) {
      peers.push(await collectors[Math.floor(j / 2)].peer(peerAddr(j), 65101 + j));
      peers.push(await ref.peer(peerAddr(j), 65101 + j));
    }
    // A consumer that starts before the routes, and one that reads the stream from its start later.
    const liveSpeaker = consumerSpeaker();
    const live = new NatsConsumer(liveSpeaker, { url: nats.url, stream: 'FEEDTEST', from: 'start' });
    add(() => live.close());
    for (let j = 0; j < 6; j++) for (const m of routes(j)) for (const p of [peers[2 * j], peers[2 * j + 1]]) p.send(m);
    live.start();
    const expected = 6 * (SHARED + OWN) - 3 * (SHARED / 50);
    await until(() => pathCount(ref.speaker) === expected, 30_000, `the reference speaker holds ${expected} paths`);
    await until(() => pathCount(liveSpeaker) === expected, 30_000, `the consumer holds ${expected} paths`);
    const name = new Map(Array.from({ length: 6 }, (_, j) => [peerAddr(j), `c${Math.floor(j / 2)}/${peerAddr(j)}`]));
    const want = await table(ref.speaker, (p) => name.get(p) ?? p);
    expect(want.length).toBe(expected);
    expect(want.filter((r) => r.endsWith('|best')).length).toBe(SHARED + 6 * OWN);
    expect(await table(liveSpeaker)).toEqual(want);

    const lateSpeaker = consumerSpeaker();
    const late = new NatsConsumer(lateSpeaker, { url: nats.url, stream: 'FEEDTEST', from: 'start' });
    add(() => late.close());
    late.start();
    await until(() => pathCount(lateSpeaker) === expected, 30_000, `the late consumer holds ${expected} paths`);
    expect(await table(lateSpeaker)).toEqual(want);
    expect(late.peerList().map((p) => p.name).sort()).toEqual([...name.values()].sort());
    // An MRT dump of the consumer lists them by their own addresses, with their BGP ids.
    const listed = speakerPeers(lateSpeaker, 0).filter((p) => p.address !== '127.0.73.99');
    expect(listed.map((p) => p.address).sort()).toEqual([...name.keys()].sort());
    expect(listed.every((p) => p.bgpId !== 0)).toBe(true);
    // GET /rib tells the collectors' peers apart, and takes them as a peer filter.
    const api = new ApiServer(lateSpeaker);
    const port = await api.listen('127.0.0.1', 0);
    add(() => api.close());
    const one: any = await (await fetch(`http://127.0.0.1:${port}/rib?prefix=10.0.1.0/24`)).json();
    expect(one.routes[0].paths.map((r: { fromPeer: string }) => r.fromPeer).sort()).toEqual([...name.values()].sort());
    expect(one.routes[0].paths.filter((r: { best: boolean }) => r.best)).toHaveLength(1);
    const own: any = await (await fetch(`http://127.0.0.1:${port}/rib?prefix=20.5.0.0/24&peer=c2/${peerAddr(5)}`)).json();
    expect(own.routes[0].paths[0]).toMatchObject({ fromPeer: `c2/${peerAddr(5)}`, peerAs: 65106, path: '65106', best: true });

    // A peer of c1 goes down: its paths leave the consumer too, after everything it sent before.
    peers[4].socket.destroy();
    await until(() => pathCount(lateSpeaker) === expected - (SHARED + OWN - SHARED / 50), 15_000, 'c1/127.0.73.21 flushed at the consumer');
    await until(() => late.peerList().find((p) => p.name === `c1/${peerAddr(2)}`)?.paths === 0, 5000, 'its path count at 0');
    expect(late.peerList().find((p) => p.name === `c0/${peerAddr(0)}`)?.paths).toBe(SHARED + OWN - SHARED / 50);
    expect(late.counts.skipped).toBe(0);
  }, 120_000);

  it('a server that stalls or goes away: ingest carries on, one line names it, the buffer is bounded and delivered once it is back', async () => {
    const nats = await natsServer();
    const lab = await startLab(add, '127.0.74.1', [{ address: '127.0.74.2', 'remote-as': 65201, ...OPEN_POLICY }], RIB);
    const f = feed(lab, { ...natsDefaults(nats.url), stream: 'DOWNTEST', subject: 'down.{collector}.{peer}.{type}', collector: 'solo', bufferBytes: 1 << 16, ackTimeout: 1 });
    const peer = await lab.peer('127.0.74.2', 65201);
    await until(() => f.publisher.link.connected, 10_000, 'the feed connected');
    const block = (b: number, n: number) => Array.from({ length: n }, (_, k) => `30.${b}.${k >> 8}.${k & 255}/32`);
    const send = (b: number, n: number) => {
      const all = block(b, n);
      for (let i = 0; i < all.length; i += 200) peer.send(announce(attrs([65201, b + 1]), all.slice(i, i + 200)));
    };
    send(0, 400);
    await until(() => f.publisher.counts.acked > 0 && f.publisher.counts.buffered === 0, 10_000, 'first routes acknowledged');

    // Stalled: nothing is acknowledged; the speaker still takes every route.
    nats.pause();
    send(1, 400);
    await until(() => pathCount(lab.speaker) === 800, 10_000, 'ingest while the server is stalled');
    await until(() => logLines.some((l) => l.includes(`no acknowledgement from ${nats.url}`)), 10_000, 'a line saying the server stalled');
    nats.resume();
    await until(() => f.publisher.counts.buffered === 0, 20_000, 'what was held delivered after the stall');
    expect(f.publisher.counts.dropped).toBe(0);
    expect(f.publisher.counts.retried).toBeGreaterThan(0);

    // Gone: the buffer fills, the rest is dropped and counted; ingest goes on.
    await nats.stop();
    await until(() => logLines.some((l) => l.includes(`lost the NATS server ${nats.url}`) || l.includes(`connection to NATS server ${nats.url} closed`)), 10_000, 'a line saying the server is gone');
    // In many small batches: the first ones are held, the rest find the buffer full.
    for (let b = 0; b < 30; b++) {
      send(10 + b, 200);
      await sleep(20);
    }
    await until(() => pathCount(lab.speaker) === 6800, 10_000, 'ingest while the server is away');
    await until(() => f.publisher.counts.dropped > 0, 10_000, 'messages dropped once the buffer is full');
    expect(f.publisher.counts.buffered).toBeLessThanOrEqual(1 << 16);
    expect(logLines.some((l) => l.includes('NATS feed: buffer full'))).toBe(true);

    // Back (same port and store): what the buffer kept, and what comes next, is stored.
    const held = f.publisher.queued + f.publisher.inFlight;
    expect(held).toBeGreaterThan(3);
    const acked = f.publisher.counts.acked;
    await nats.start();
    await until(() => f.publisher.link.connected && f.publisher.counts.buffered === 0, 20_000, 'the buffer delivered after the restart');
    expect(f.publisher.counts.acked).toBeGreaterThanOrEqual(acked + held);
    send(3, 10);
    await until(() => f.publisher.counts.acked > acked + held, 10_000, 'publishing resumed');
    expect(pathCount(lab.speaker)).toBe(6810);
  }, 120_000);

  it('a consumer whose server restarts or whose connection is lost reads on from the message after its last, each message once', async () => {
    const nats = await natsServer();
    const lab = await startLab(add, '127.0.76.1', [{ address: '127.0.76.2', 'remote-as': 65401, ...OPEN_POLICY }], RIB);
    const f = feed(lab, { ...natsDefaults(nats.url), stream: 'AGAINTEST', subject: 'again.{collector}.{peer}.{type}', collector: 'solo' });
    const peer = await lab.peer('127.0.76.2', 65401);
    const s = consumerSpeaker();
    const consumer = new NatsConsumer(s, { url: nats.url, stream: 'AGAINTEST', from: 'start' });
    add(() => consumer.close());
    consumer.start();
    const send = (b: number) => {
      for (let k = 0; k < 1000; k += 100) peer.send(announce(attrs([65401, b + 1]), Array.from({ length: 100 }, (_, i) => `50.${b}.${(k + i) >> 8}.${(k + i) & 255}/32`)));
    };
    send(0);
    await until(() => pathCount(s) === 1000, 10_000, 'the first routes at the consumer');

    await nats.stop();
    await nats.start();
    await until(() => f.publisher.link.connected && consumer.link.connected, 20_000, 'both connected again');
    send(1);
    await until(() => pathCount(s) === 2000, 10_000, 'the routes sent after the restart at the consumer');
    // A connection lost while the server keeps the consumer (as when it drops a slow one): read on
    // at once, not when the ordered consumer's missed heartbeats (2 x 15 s) would have it pull again.
    await consumer.link.connection!.reconnect();
    await until(() => consumer.link.connected, 10_000, 'the consumer connected again');
    send(2);
    await until(() => pathCount(s) === 3000, 10_000, 'the routes sent after the reconnect at the consumer');
    expect(logLines.some((l) => l.includes(`NATS consumer: reconnected to NATS server ${nats.url}`) || l.includes(`NATS consumer: connected to NATS server ${nats.url}`))).toBe(true);
    const info = await (await jetstreamManager(consumer.link.connection!)).streams.info('AGAINTEST');
    expect(consumer.counts.lastSeq).toBe(info.state.last_seq);
    expect(consumer.counts.messages).toBe(info.state.messages);
    expect(consumer.counts.skipped).toBe(0);
  }, 60_000);

  it('skips with a reason only when nats-server is missing', () => {
    expect(haveServer || !required).toBe(true);
  });
});

describe('NATS feed without a server', () => {
  it('a server that refuses: one line naming it, and the speaker takes its routes all the same', async () => {
    const url = `nats://127.0.0.1:${await freePort('127.0.0.1')}`;
    const lab = await startLab(add, '127.0.75.1', [{ address: '127.0.75.2', 'remote-as': 65301, ...OPEN_POLICY }], RIB);
    const f = feed(lab, { ...natsDefaults(url), stream: 'NOWHERE', bufferBytes: 1 << 16 });
    const peer = await lab.peer('127.0.75.2', 65301);
    const all = Array.from({ length: 5000 }, (_, k) => `40.0.${k >> 8}.${k & 255}/32`);
    for (let i = 0; i < all.length; i += 100) {
      peer.send(announce(attrs([65301]), all.slice(i, i + 100)));
      await sleep(5);
    }
    await until(() => pathCount(lab.speaker) === 5000, 10_000, 'every route in the RIB');
    await until(() => logLines.some((l) => l.includes(`NATS feed: cannot connect to NATS server ${url}`)), 10_000, 'a line naming the server');
    await until(() => f.publisher.counts.dropped > 0, 5000, 'drops counted');
    expect(f.publisher.link.connected).toBe(false);
    expect(f.publisher.counts.buffered).toBeLessThanOrEqual(1 << 16);
  });
});

describe('NATS configuration', () => {
  it('a bad [nats] table or consume flag is one line naming the field', async () => {
    expect(() => validateConfig({ global: { asn: 65000, 'router-id': '10.0.0.1' }, nats: { url: 5 } })).toThrow(/^nats\.url: expected a NATS server URL/);
    expect(() => validateConfig({ global: { asn: 65000, 'router-id': '10.0.0.1' }, nats: { url: 'nats://127.0.0.1:4222', subject: 'ribstorm.{collector}' } })).toThrow(/^nats\.subject: expected a subject template/);
    expect(() => validateConfig({ global: { asn: 65000, 'router-id': '10.0.0.1' }, nats: { url: 'nats://127.0.0.1:4222', collector: 'a.b' } })).toThrow(/^nats\.collector: expected/);
    expect(() => validateConfig({ global: { asn: 65000, 'router-id': '10.0.0.1' }, nats: { url: 'nats://127.0.0.1:4222', formats: 'json' } })).toThrow(/^nats\.formats: unknown/);
    const err: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (err.push(s), true)) as typeof process.stderr.write;
    try {
      expect(await main(['consume', '--nats', 'nats://127.0.0.1:4222', '--from', 'yesterday'])).toBe(2);
      expect(await main(['consume'])).toBe(2);
      expect(await main(['run', '--as', '65000', '--router-id', '10.0.0.1', '--nats-collector', 'x'])).toBe(2);
      expect(await main(['run', '--as', '65000', '--router-id', '10.0.0.1', '--nats', 'nats://h:1 2'])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(err[0]).toMatch(/^ribstorm: --from: expected start or live, got "yesterday"\n$/);
    expect(err[1]).toMatch(/^ribstorm: --nats: expected the NATS server/);
    expect(err[2]).toMatch(/^ribstorm: --nats-collector: expected a NATS server as well/);
    expect(err[3]).toMatch(/^ribstorm: --nats: expected a NATS server URL such as "nats:\/\/127.0.0.1:4222", got "nats:\/\/h:1 2"\n$/);
  });
});
