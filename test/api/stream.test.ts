// WS /stream in RIS Live's shapes, on both servers: subscriptions and their filters, UPDATEs
// decoded by the workers, peer state, raw messages, a snapshot followed by live deltas with
// nothing lost between, msgpack frames, and a ris_error for a bad subscription.
import { unpack } from 'msgpackr';
import WebSocket from 'ws';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../../src/api/server.js';
import type { RibConfig } from '../../src/config/schema.js';
import { captureLog, until } from '../helpers/rawPeer.js';
import { announce, attrs, communities, OPEN_POLICY, startLab, useCleanup, withdraw } from '../helpers/lab.js';

const add = useCleanup();
beforeAll(() => {
  captureLog();
});

const HOST = '127.0.62.1';
const A = '127.0.62.2'; // AS 65202
const B = '127.0.62.3'; // AS 65203

type Msg = { type: string; data: Record<string, any> };

/** A stream client that keeps every message it gets. */
class Watcher {
  readonly msgs: Msg[] = [];
  /** Each JSON message's text as it came. */
  readonly texts: string[] = [];
  readonly ws: WebSocket;
  binary = false;
  frames = 0;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (m, isBinary) => {
      this.binary ||= isBinary;
      this.frames++;
      // One message a frame, or with socketOptions.batch several: JSON lines, a msgpack array.
      if (!isBinary) this.texts.push(...m.toString().split('\n'));
      const got = isBinary ? unpack(m as Buffer) : m.toString().split('\n').map((l) => JSON.parse(l));
      this.msgs.push(...(Array.isArray(got) ? got : [got]));
    });
    add(() => this.ws.terminate());
  }

  async open(): Promise<this> {
    await new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
    return this;
  }

  async subscribe(data: Record<string, unknown>): Promise<Msg> {
    const n = this.msgs.length;
    this.ws.send(JSON.stringify({ type: 'ris_subscribe', data }));
    await until(() => this.msgs.length > n, 5000, 'an answer to ris_subscribe');
    return this.msgs[n];
  }

  updates(): Msg[] {
    return this.msgs.filter((m) => m.type === 'ris_message' && m.data.type === 'UPDATE');
  }

  announced(): string[] {
    return this.updates().flatMap((m) => (m.data.announcements ?? []).flatMap((a: { prefixes: string[] }) => a.prefixes));
  }
}

async function lab(native: boolean, streamBufferBytes?: number, rib: Partial<RibConfig> = {}) {
  const l = await startLab(
    add,
    HOST,
    [
      { address: A, 'remote-as': 65202, ...OPEN_POLICY },
      { address: B, 'remote-as': 65203, ...OPEN_POLICY },
    ],
    rib,
  );
  const api = new ApiServer(l.speaker, { native, streamBufferBytes });
  const port = await api.listen('127.0.0.1', 0);
  add(() => api.close());
  const watcher = () => new Watcher(`ws://127.0.0.1:${port}/stream`).open();
  const held = (addr: string, n: number) => until(() => l.speaker.receivedPaths(l.speaker.neighbors.get(addr)!) === n, 5000, `${n} paths from ${addr}`);
  return { l, api, watcher, held };
}

for (const native of [true, false]) {
  describe(`WS /stream over ${native ? 'uWebSockets.js' : 'node:http'}`, () => {
    it('streams UPDATEs in the RIS Live shape, peer state and OPENs', async () => {
      const { l, watcher, held } = await lab(native);
      const w = await watcher();
      const ok = await w.subscribe({});
      expect(ok.type).toBe('ris_subscribe_ok');
      const a = await l.peer(A, 65202);
      a.send(announce(attrs([65202, 3356, 1299], [communities((65202 << 16) | 9)]), ['10.62.1.0/24', '10.62.2.0/24']));
      a.send(withdraw(['10.62.2.0/24']));
      await held(A, 1);
      await until(() => w.updates().length === 2);
      const [ann, wd] = w.updates().map((m) => m.data);
      expect(ann).toMatchObject({ type: 'UPDATE', peer: A, peer_asn: '65202', path: [65202, 3356, 1299], origin: 'IGP', community: [[65202, 9]], announcements: [{ next_hop: '198.18.0.9', prefixes: ['10.62.1.0/24', '10.62.2.0/24'] }] });
      expect(typeof ann.timestamp).toBe('number');
      expect(ann.host).toBeTruthy();
      expect(ann.raw).toBeUndefined();
      expect(wd.withdrawals).toEqual(['10.62.2.0/24']);
      const states = w.msgs.filter((m) => m.data?.type === 'RIS_PEER_STATE').map((m) => m.data);
      expect(states).toEqual([expect.objectContaining({ peer: A, state: 'connected' })]);
      const opens = w.msgs.filter((m) => m.data?.type === 'OPEN').map((m) => m.data);
      expect(opens.map((o) => o.direction).sort()).toEqual(['received', 'sent']);
      expect(opens.find((o) => o.direction === 'received')).toMatchObject({ asn: 65202, capabilities: { 1: { name: 'multiprotocol', families: ['ipv4/unicast'] } } });
    });

    it('filters by prefix (more and less specific), peer, path and type', async () => {
      const { l, watcher, held } = await lab(native);
      const more = await watcher();
      await more.subscribe({ prefix: '10.62.0.0/16' });
      const exact = await watcher();
      await exact.subscribe({ prefix: '10.62.5.0/24', moreSpecific: false });
      const less = await watcher();
      await less.subscribe({ prefix: '10.62.5.128/25', moreSpecific: false, lessSpecific: true });
      const byPeer = await watcher();
      await byPeer.subscribe({ peer: B });
      const byPath = await watcher();
      await byPath.subscribe({ path: '3356,1299$' });
      const states = await watcher();
      await states.subscribe({ type: 'RIS_PEER_STATE' });
      const a = await l.peer(A, 65202);
      const b = await l.peer(B, 65203);
      a.send(announce(attrs([65202, 3356, 1299]), ['10.62.5.0/24']));
      a.send(announce(attrs([65202, 174]), ['10.62.5.0/25', '10.99.0.0/16']));
      a.send(announce(attrs([65202, 3356]), ['10.62.0.0/16']));
      b.send(announce(attrs([65203, 3356]), ['10.63.0.0/16']));
      await held(A, 4);
      await held(B, 1);
      await until(() => more.updates().length === 3 && byPeer.updates().length === 1);
      await new Promise((r) => setTimeout(r, 100));
      // A matching message comes whole: 10.99.0.0/16 rides with 10.62.5.0/25.
      expect(more.announced()).toEqual(['10.62.5.0/24', '10.62.5.0/25', '10.99.0.0/16', '10.62.0.0/16']);
      expect(exact.announced()).toEqual(['10.62.5.0/24']);
      expect(less.announced()).toEqual(['10.62.5.0/24', '10.62.0.0/16']);
      expect(byPeer.announced()).toEqual(['10.63.0.0/16']);
      expect(byPath.announced()).toEqual(['10.62.5.0/24']);
      expect(states.updates()).toEqual([]);
      expect(states.msgs.filter((m) => m.data?.type === 'RIS_PEER_STATE').map((m) => m.data.peer)).toEqual([A, B]);
    });

    it('includeRaw carries the whole message in hex', async () => {
      const { l, watcher, held } = await lab(native);
      const w = await watcher();
      await w.subscribe({ includeRaw: true });
      const a = await l.peer(A, 65202);
      const msg = announce(attrs([65202]), ['10.62.9.0/24']);
      a.send(msg);
      await held(A, 1);
      await until(() => w.updates().length === 1);
      expect(w.updates()[0].data.raw).toBe(Buffer.from(msg).toString('hex').toUpperCase());
    });

    it('snapshot: the matching table, END_OF_RIB, then every later change', async () => {
      const { l, watcher, held } = await lab(native);
      const a = await l.peer(A, 65202);
      const prefixes = Array.from({ length: 600 }, (_, i) => `10.64.${i >> 8}.${i & 255}/32`);
      a.send(announce(attrs([65202, 7]), prefixes.slice(0, 300)));
      a.send(announce(attrs([65202, 8]), prefixes.slice(300)));
      a.send(announce(attrs([65202, 9]), ['10.65.0.0/16']));
      await held(A, 601);
      const w = await watcher();
      w.ws.send(JSON.stringify({ type: 'ris_subscribe', data: { prefix: '10.64.0.0/16', snapshot: true } }));
      // Changes while the snapshot is taken: they come after the marker, or in the snapshot itself.
      a.send(withdraw(['10.64.0.0/32']));
      a.send(announce(attrs([65202, 10]), ['10.64.9.0/24']));
      await until(() => w.msgs.some((m) => m.data?.type === 'END_OF_RIB'), 10000, 'END_OF_RIB');
      await held(A, 601);
      const eor = w.msgs.findIndex((m) => m.data?.type === 'END_OF_RIB');
      expect(w.msgs[0].type).toBe('ris_subscribe_ok');
      const snap = w.msgs.slice(1, eor).map((m) => m.data);
      expect(snap.every((d) => d.type === 'UPDATE' && d.announcements.length === 1 && d.announcements[0].prefixes.length === 1)).toBe(true);
      expect(snap.some((d) => d.announcements[0].prefixes[0] === '10.65.0.0/16')).toBe(false);
      expect(w.msgs[eor].data.prefixes).toBe(snap.length);
      // Replaying the snapshot and then the deltas gives the RIB's table of that range.
      const table = new Map<string, unknown>();
      await new Promise((r) => setTimeout(r, 300));
      for (const m of w.msgs.slice(1)) {
        if (m.data?.type !== 'UPDATE') continue;
        for (const p of m.data.withdrawals ?? []) table.delete(p);
        for (const an of m.data.announcements ?? []) for (const p of an.prefixes) if (p.startsWith('10.64.')) table.set(p, m.data.path);
      }
      const expected = new Set([...prefixes.slice(1), '10.64.9.0/24']);
      expect(new Set(table.keys())).toEqual(expected);
      expect(table.get('10.64.1.44/32')).toEqual([65202, 8]);
      // Live afterwards.
      a.send(announce(attrs([65202, 11]), ['10.64.10.0/24']));
      await until(() => w.announced().includes('10.64.10.0/24'));
    });

    it('cuts off a client that cannot keep up with one ris_error; the others go on', async () => {
      const { l, api, watcher, held } = await lab(native, 256 << 10);
      const slow = await watcher();
      await slow.subscribe({ includeRaw: true });
      const fast = await watcher();
      await fast.subscribe({ prefix: '10.66.0.0/16' });
      // The slow client stops reading: the kernel's buffers fill, then the server's.
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const a = await l.peer(A, 65202);
      const prefixes = Array.from({ length: 200 }, (_, i) => `10.67.${i}.0/24`);
      for (let i = 0; i < 1500; i++) a.send(announce(attrs([65202, i % 50]), prefixes));
      a.send(announce(attrs([65202]), ['10.66.1.0/24']));
      await held(A, 201);
      await until(() => fast.announced().includes('10.66.1.0/24'), 20000, 'the fast client served');
      await until(() => api.stream!.clientCount === 1, 20000, 'the slow client cut off');
      expect(api.stream!.dropped).toBe(1);
      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      await until(() => slow.msgs.some((m) => m.type === 'ris_error'), 20000, 'the ris_error');
      expect(slow.msgs.find((m) => m.type === 'ris_error')!.data.message).toMatch(/too slow/);
      await until(() => slow.ws.readyState === WebSocket.CLOSED, 5000, 'the slow socket closed');
    });

    it('cuts off a client that holds the events back past [rib] events-backlog-mb; every other watcher then gets them all', async () => {
      // Its queue's bound (8 MiB of events) far above what the held-back UPDATEs may reach (1 MiB, as received).
      const { l, api, watcher, held } = await lab(native, 8 << 20, { eventsBacklogMb: 1 });
      const slow = await watcher();
      await slow.subscribe({ includeRaw: true });
      const fast = await watcher();
      await fast.subscribe({ prefix: '10.68.0.0/16', moreSpecific: true });
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const a = await l.peer(A, 65202);
      const prefixes = Array.from({ length: 200 }, (_, i) => `10.68.${i}.0/24`);
      // In bursts of 25, each taken in and applied before the next, so that batches stay small
      // however busy the machine: the slow client's queue passes half its bound (it holds the
      // events back) long before the bound itself.
      const sent = 4000;
      const neighbor = l.speaker.neighbors.get(A)!;
      const before = neighbor.received.total;
      for (let i = 0; i < sent; i++) {
        a.send(announce(attrs([65202, 64512 + (i % 50), 100000 + i]), prefixes));
        if (i % 25 === 24) {
          await until(() => neighbor.received.total >= before + i + 1, 10000, `UPDATE ${i} taken in`);
          await l.speaker.rib!.applied();
        }
      }
      await held(A, 200);
      await until(() => api.stream!.clientCount === 1, 30000, 'the slow client cut off');
      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      await until(() => slow.msgs.some((m) => m.type === 'ris_error'), 20000, 'the ris_error');
      expect(slow.msgs.find((m) => m.type === 'ris_error')!.data.message).toMatch(/the UPDATEs held back for it passed the server's bound/);
      // Nothing was lost for the others: every UPDATE, in the order sent.
      await until(() => fast.updates().length === sent, 30000, `${sent} UPDATEs at the other client`);
      const paths = fast.updates().map((m) => m.data.path as number[]);
      expect(paths.every((p, i) => p[2] === 100000 + i)).toBe(true);
    });

    it('batch: a batch of UPDATEs in one frame, as JSON lines or a msgpack array', async () => {
      const { l, watcher, held } = await lab(native);
      const lines = await watcher();
      await lines.subscribe({ socketOptions: { batch: true } });
      const packed = await watcher();
      await packed.subscribe({ socketOptions: { batch: true, format: 'msgpack' } });
      const single = await watcher();
      await single.subscribe({});
      const a = await l.peer(A, 65202);
      // Several UPDATEs in one write: they reach the workers as one batch.
      a.send(Buffer.concat(Array.from({ length: 20 }, (_, i) => announce(attrs([65202, i]), [`10.68.${i}.0/24`]))));
      await held(A, 20);
      for (const w of [lines, packed, single]) await until(() => w.updates().length === 20);
      expect(lines.announced()).toEqual(single.announced());
      expect(packed.announced()).toEqual(single.announced());
      const framesOf = (w: Watcher) => w.frames - w.msgs.filter((m) => m.type !== 'ris_message' || m.data.type !== 'UPDATE').length;
      expect(framesOf(single)).toBe(20);
      expect(framesOf(lines)).toBeLessThan(20);
      expect(framesOf(packed)).toBeLessThan(20);
    });

    it('a filter on the envelope only and one that reads the message send the same text, byte for byte', async () => {
      const { l, watcher, held } = await lab(native);
      // Whole batches as bytes (the envelope is the same for a batch), or message by message parsed.
      const clients = {
        whole: await watcher(),
        wholeBatched: await watcher(),
        wholeRaw: await watcher(),
        parsed: await watcher(),
        parsedRaw: await watcher(),
      };
      await clients.whole.subscribe({ type: 'UPDATE' });
      await clients.wholeBatched.subscribe({ peer: A, socketOptions: { batch: true } });
      await clients.wholeRaw.subscribe({ includeRaw: true });
      await clients.parsed.subscribe({ require: 'timestamp' });
      await clients.parsedRaw.subscribe({ require: 'timestamp', includeRaw: true });
      const a = await l.peer(A, 65202);
      a.send(
        Buffer.concat([
          ...Array.from({ length: 12 }, (_, i) => announce(attrs([65202, 3356, i], [communities((65202 << 16) | i)]), [`10.69.${i}.0/24`, `10.69.${i}.128/25`])),
          withdraw(['10.69.3.0/24', '10.69.4.128/25']),
        ]),
      );
      await held(A, 22);
      for (const w of Object.values(clients)) await until(() => w.updates().length === 13);
      const texts = (w: Watcher) => w.texts.filter((t) => t.startsWith('{"type":"ris_message"') && t.includes('"type":"UPDATE"'));
      expect(texts(clients.whole)).toHaveLength(13);
      expect(texts(clients.whole)).toEqual(texts(clients.parsed));
      expect(texts(clients.wholeBatched)).toEqual(texts(clients.parsed));
      expect(texts(clients.wholeRaw)).toEqual(texts(clients.parsedRaw));
      expect(texts(clients.wholeRaw)[0]).toMatch(/,"raw":"[0-9A-F]+"}}$/);
      expect(texts(clients.whole)[0]).toMatch(/^{"type":"ris_message","data":{"peer":"127\.0\.62\.2","peer_asn":"65202","id":"[^"]+-[0-9a-f]+","host":"[^"]+","type":"UPDATE","timestamp":[0-9.]+,"origin":"IGP","path":\[65202,3356,0\],"community":\[\[65202,0\]\],"announcements":\[{"next_hop":"[0-9.]+","prefixes":\["10\.69\.0\.0\/24","10\.69\.0\.128\/25"\]}\]}}$/);
    });

    it('msgpack frames on request', async () => {
      const { l, watcher, held } = await lab(native);
      const w = await watcher();
      const ok = await w.subscribe({ socketOptions: { format: 'msgpack' } });
      expect(w.binary).toBe(true);
      expect(ok).toMatchObject({ type: 'ris_subscribe_ok', data: { socketOptions: { format: 'msgpack' } } });
      const a = await l.peer(A, 65202);
      a.send(announce(attrs([65202, 1]), ['10.62.20.0/24']));
      await held(A, 1);
      await until(() => w.updates().length === 1);
      expect(w.updates()[0].data).toMatchObject({ peer: A, path: [65202, 1] });
    });

    it('answers a bad subscription with ris_error naming the field, and keeps the socket', async () => {
      const { watcher } = await lab(native);
      const w = await watcher();
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ prefix: 'bogus' }, 'prefix'],
        [{ type: 'BOGUS' }, 'type'],
        [{ peer: 'x' }, 'peer'],
        [{ path: 'a,b' }, 'path'],
        [{ colour: 'blue' }, 'colour'],
        [{ moreSpecific: 'yes' }, 'moreSpecific'],
        [{ socketOptions: { format: 'xml' } }, 'socketOptions.format'],
      ];
      for (const [data, field] of cases) {
        const r = await w.subscribe(data);
        expect(r.type).toBe('ris_error');
        expect(r.data.message.startsWith(`${field}: `)).toBe(true);
      }
      const n = w.msgs.length;
      w.ws.send('not json');
      await until(() => w.msgs.length > n);
      expect(w.msgs[n]).toMatchObject({ type: 'ris_error' });
      expect((await w.subscribe({})).type).toBe('ris_subscribe_ok');
    });
  });
}
