// Stations that misbehave (no pmbmpd needed): one that accepts and never reads, one whose
// address refuses, one that closes at once. Each time: a clear log line naming the station,
// counters that say what happened, and the speaker ingesting on as if no station existed.
// Also the `[[bmp]]` config: a bad field is one line naming it.
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { BmpExporter } from '../../src/bmp/exporter.js';
import { bmpStation, validateBmp } from '../../src/config/bmp.js';
import { validateConfig } from '../../src/config/schema.js';
import { State } from '../../src/neighbor/fsm.js';
import { freePort } from '../helpers/env.js';
import { announce, attrs, communities, OPEN_POLICY, startLab, useCleanup } from '../helpers/lab.js';
import { captureLog, until } from '../helpers/rawPeer.js';

const add = useCleanup();
let logs: string[] = [];
beforeAll(() => {
  logs = captureLog();
});

const HOST = '127.0.73.1';
const P = '127.0.73.2';
const v4 = (i: number) => `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}/32`;

/** A listener on a free port; `onSocket` decides what it does with each connection. */
async function fakeStation(onSocket: (s: net.Socket) => void): Promise<{ port: number; sockets: net.Socket[] }> {
  const port = await freePort('127.0.0.1');
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  add(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(() => r(undefined)));
  });
  return { port, sockets };
}

async function feedingLab() {
  const l = await startLab(add, HOST, [{ address: P, 'remote-as': 65401, ...OPEN_POLICY }], { prefixes: 1 << 18, paths: 1 << 18 });
  const peer = await l.peer(P, 65401);
  const held = () => l.speaker.receivedPaths(l.speaker.neighbors.get(P)!);
  /**
   * `count` /32s from `from`, 200 to an UPDATE, each UPDATE its own AS path; `round` > 0 sends
   * them again with 200 communities (800 octets) more, so each UPDATE is large.
   */
  const feed = (from: number, count: number, round = 0) => {
    const extra = round ? [communities(...Array.from({ length: 200 }, (_, k) => ((65401 << 16) | (round * 200 + k)) >>> 0))] : [];
    for (let i = from; i < from + count; i += 200) {
      peer.send(announce(attrs([65401, 64512 + ((i / 200) % 1000)], extra, '198.18.73.2'), Array.from({ length: Math.min(200, from + count - i) }, (_, k) => v4(i + k))));
    }
  };
  return { l, peer, held, feed };
}

describe('BMP stations that misbehave', () => {
  it('a station that accepts and never reads costs a bounded buffer and a drop count, never ingest', async () => {
    const station = await fakeStation((s) => s.pause());
    const { l, held, feed } = await feedingLab();
    const bmp = new BmpExporter(l.speaker, [bmpStation(`127.0.0.1:${station.port}`, 'test', { bufferBytes: 64 << 10, statisticsInterval: 0 })]);
    bmp.start();
    add(() => bmp.stop());
    await until(() => bmp.stations[0].state === 'up', 5000, 'the station connected');
    // Far more than the buffer and the kernel's socket buffers take: the station falls behind.
    // Each round sends 20,000 routes again in UPDATEs of about 1,800 octets, and one new route.
    const sent = 20_000;
    feed(0, sent);
    let round = 0;
    while (bmp.status()[0].counters.dropped === 0 && round < 40) {
      round++;
      feed(0, sent, round);
      feed(1_000_000 + round, 1);
      await until(() => held() === sent + round, 20000, `round ${round} held`);
    }
    const s = bmp.status()[0];
    expect(s.counters.dropped).toBeGreaterThan(0);
    expect(s.counters.droppedBytes).toBeGreaterThan(64 << 10);
    feed(0, sent, round + 1); // and ingest goes on
    feed(2_000_000, 1);
    await until(() => held() === sent + round + 1, 20000, 'the last round held');
    expect(l.state(P)).toBe(State.Established);
    expect(logs.some((line) => line.includes(`BMP station 127.0.0.1:${station.port}: disconnected (send buffer full`))).toBe(true);
    // It comes back, is sent the table again, and falls behind again: never more than the buffer queued.
    await until(() => station.sockets.length >= 2, 5000, 'a second connection');
    expect(bmp.status()[0].backlog).toBeLessThanOrEqual(64 << 10);
  }, 120_000);

  it('a station whose address refuses: each attempt logged with the back-off, the speaker unaffected', async () => {
    const port = await freePort('127.0.0.1'); // nothing listens there
    const { l, held, feed } = await feedingLab();
    const bmp = new BmpExporter(l.speaker, [bmpStation(`127.0.0.1:${port}`, 'test')]);
    bmp.start();
    add(() => bmp.stop());
    feed(0, 2000);
    await until(() => held() === 2000, 10000, 'the routes held');
    const name = `BMP station 127.0.0.1:${port}`;
    await until(() => logs.filter((x) => x.includes(`${name}: cannot connect (ECONNREFUSED)`)).length >= 2, 5000, 'two refused attempts logged');
    const lines = logs.filter((x) => x.includes(name));
    expect(lines[0]).toContain('retrying in 1s');
    expect(lines[1]).toContain('retrying in 2s');
    expect(bmp.status()[0]).toMatchObject({ state: 'waiting', lastError: 'ECONNREFUSED' });
    expect(bmp.status()[0].counters.reconnects).toBeGreaterThanOrEqual(2);
    expect(l.state(P)).toBe(State.Established);
  }, 30_000);

  it('a station that closes each connection at once: logged, reconnected, the speaker unaffected', async () => {
    const station = await fakeStation((s) => s.destroy());
    const { l, held, feed } = await feedingLab();
    const bmp = new BmpExporter(l.speaker, [bmpStation(`127.0.0.1:${station.port}`, 'test')]);
    bmp.start();
    add(() => bmp.stop());
    feed(0, 2000);
    await until(() => station.sockets.length >= 2, 5000, 'a reconnection');
    await until(() => held() === 2000, 10000, 'the routes held');
    expect(logs.some((x) => x.includes(`BMP station 127.0.0.1:${station.port}: disconnected (`) && x.includes('reconnecting in 1s'))).toBe(true);
    expect(l.state(P)).toBe(State.Established);
  }, 30_000);
});

describe('[[bmp]] config', () => {
  const base = { global: { asn: 65000, 'router-id': '10.0.0.1' } };
  it('reads stations with their defaults and options', () => {
    const c = validateConfig({ ...base, bmp: [{ station: '127.0.0.1' }, { station: '[::1]:11019', monitoring: 'all', 'statistics-interval': 0, buffer: 1 << 20 }] });
    expect(c.bmp).toEqual([
      { address: '127.0.0.1', port: 1790, monitoring: ['pre-policy'], statisticsInterval: 60, bufferBytes: 32 << 20 },
      { address: '::1', port: 11019, monitoring: ['pre-policy', 'local-rib'], statisticsInterval: 0, bufferBytes: 1 << 20 },
    ]);
    expect(validateConfig(base).bmp).toBeUndefined();
  });

  it('names the field of a bad value in one line', () => {
    const bad = (b: unknown) => () => validateBmp(b);
    expect(bad([{ station: 'nowhere:1790' }])).toThrow(/^bmp\[0\]\.station: expected ADDRESS\[:PORT\]/);
    expect(bad([{}])).toThrow(/^bmp\[0\]\.station: expected "ADDRESS:PORT"/);
    expect(bad([{ station: '127.0.0.1', monitoring: ['post-policy'] }])).toThrow(/^bmp\[0\]\.monitoring: .*not supported yet/);
    expect(bad([{ station: '127.0.0.1', buffer: 10 }])).toThrow(/^bmp\[0\]\.buffer: expected octets from 16384/);
    expect(bad([{ station: '127.0.0.1', colour: 'red' }])).toThrow(/^bmp\[0\]\.colour: unknown$/);
    expect(bad([{ station: '127.0.0.1:1790' }, { station: '127.0.0.1' }])).toThrow(/^bmp\[1\]\.station: expected a station not listed twice/);
    expect(bad({ station: '127.0.0.1' })).toThrow(/^bmp: expected a list of \[\[bmp\]\] tables/);
  });
});
