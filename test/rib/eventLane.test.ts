// The route events' lane (rib/eventLane.ts): received UPDATEs copied out of their ring, written
// as RIS Live JSON on the events' thread (at the lowest priority), handed on in batch order;
// held back by a watcher that is behind, deferred while the RIB is busy, bounded.
import { afterEach, describe, expect, it } from 'vitest';
import { AsPathSegmentType, AttrFlag, AttrType, encodeUpdate, type CodecContext, type PathAttribute } from '../../src/packet/index.js';
import { CopyArena, type ReceivedCopy } from '../../src/rib/copyArena.js';
import { UpdateEventLane } from '../../src/rib/eventLane.js';
import { encodeUpdateEvents, ID_DIGITS, UpdateEventBatch } from '../../src/rib/events.js';
import type { PeerContext } from '../../src/rib/parse.js';

const T = AttrFlag.Transitive;
const CTX: PeerContext = { asn4: true, ebgp: true, addPath: false };
const codec = (asn4 = true): CodecContext => ({ asn4, ebgp: true, addPath: { ipv4: false } });

function update(prefix: string, asns = [65001, 3356], asn4 = true): Uint8Array {
  const attributes: PathAttribute[] = [
    { type: AttrType.ORIGIN, flags: T, origin: 0 },
    { type: AttrType.AS_PATH, flags: T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns }] },
    { type: AttrType.NEXT_HOP, flags: T, nextHop: '198.51.100.1' },
  ];
  return encodeUpdate({ withdrawn: [], attributes, nlri: [{ prefix }] }, codec(asn4));
}

/** Messages placed in a shared buffer at the given offsets; their descriptors. */
function ring(msgs: Uint8Array[], offsets: number[]): { buffer: SharedArrayBuffer; descriptors: Uint32Array } {
  const buffer = new SharedArrayBuffer(Math.max(...msgs.map((m, i) => offsets[i] + m.length)) + 7);
  const bytes = new Uint8Array(buffer);
  bytes.fill(0xee);
  const descriptors = new Uint32Array(msgs.length * 2);
  msgs.forEach((m, i) => {
    bytes.set(m, offsets[i]);
    descriptors[i * 2] = offsets[i];
    descriptors[i * 2 + 1] = m.length;
  });
  return { buffer, descriptors };
}

const messagesOf = (c: ReceivedCopy) => Array.from({ length: c.descriptors.length >> 1 }, (_, i) => [...new Uint8Array(c.buffer, c.descriptors[i * 2], c.descriptors[i * 2 + 1])]);

describe('CopyArena', () => {
  it('copies the first count messages, whether they follow each other in the ring or not', () => {
    const msgs = [update('10.1.0.0/24'), update('10.1.1.0/24'), update('10.1.2.0/24'), update('10.1.3.0/24'), update('10.1.4.0/24')];
    const len = msgs[0].length;
    // Two runs of adjacent messages with a gap between them (a wrapped ring), a fifth not received.
    const { buffer, descriptors } = ring(msgs, [3, 3 + len, 500, 500 + len, 500 + 2 * len]);
    const copy = new CopyArena().copy(buffer, descriptors, 4);
    expect(copy.descriptors.length).toBe(8);
    expect(copy.size).toBe(4 * len);
    expect(messagesOf(copy)).toEqual(msgs.slice(0, 4).map((m) => [...m]));
  });

  it('copies one after another into its memory and reuses it once every copy is released; a copy stays intact until then', () => {
    const arena = new CopyArena();
    const a = ring([update('10.2.0.0/24'), update('10.2.1.0/24')], [0, 100]);
    const b = ring([update('10.2.2.0/24')], [40]);
    const first = arena.copy(a.buffer, a.descriptors, 2);
    const second = arena.copy(b.buffer, b.descriptors, 1);
    expect(second.buffer).toBe(first.buffer);
    expect(second.descriptors[0]).toBe(first.size); // right after the first copy
    arena.release(first);
    const third = arena.copy(a.buffer, a.descriptors, 1);
    expect(third.descriptors[0]).toBe(first.size + second.size); // the second is still there
    expect(messagesOf(second)).toEqual([[...update('10.2.2.0/24')]]);
    arena.release(second);
    arena.release(third);
    const fourth = arena.copy(b.buffer, b.descriptors, 1);
    expect(fourth.buffer).toBe(first.buffer);
    expect(fourth.descriptors[0]).toBe(0); // all released: from the start again
    expect(messagesOf(fourth)).toEqual([[...update('10.2.2.0/24')]]);
  });

  it('has chunks made ready ahead when asked (a first watcher), and copies into them', async () => {
    const readied: SharedArrayBuffer[] = [];
    const arena = new CopyArena(async (chunk) => {
      readied.push(chunk);
    });
    arena.prepare();
    expect(readied.length).toBeGreaterThan(0);
    const asked = readied.length;
    arena.prepare(); // as many as are ready or being made ready: none more
    expect(readied.length).toBe(asked);
    await Promise.resolve();
    const a = ring([update('10.2.3.0/24')], [0]);
    expect(readied).toContain(arena.copy(a.buffer, a.descriptors, 1).buffer);
  });
});

describe('the envelope the events\' thread writes', () => {
  it('gives each line the envelope, room for the id and the body after it; the bodies read the same as without', () => {
    const watch = { raw: false, time: 1700000000.5 };
    // A 2-octet-AS session's UPDATEs take the codec's way (events.ts eventText), the others eventJson's.
    for (const asn4 of [true, false]) {
      const msgs = [update('10.3.0.0/24', [65001, 3356], asn4), update('10.3.1.0/24', [65001, 64512], asn4)];
      const { buffer, descriptors } = ring(msgs, [0, 200]);
      const bytes = new Uint8Array(buffer);
      const ctx = codec(asn4);
      const plain = encodeUpdateEvents(bytes, descriptors, 2, ctx, watch)!;
      const enveloped = encodeUpdateEvents(bytes, descriptors, 2, ctx, watch, { before: '{"type":"ris_message","data":{"peer":"192.0.2.1","id":"h-', after: '","type":"UPDATE"' })!;
      const a = new UpdateEventBatch(plain);
      const b = new UpdateEventBatch(enveloped);
      expect(b.json).toEqual(a.json);
      expect(b.envelope?.before).toBe('{"type":"ris_message","data":{"peer":"192.0.2.1","id":"h-'.length);
      const lines = Buffer.from(b.bytes).toString('latin1').split('\n');
      expect(lines).toHaveLength(2);
      lines.forEach((line, i) => {
        expect(line).toBe(`{"type":"ris_message","data":{"peer":"192.0.2.1","id":"h-${'0'.repeat(ID_DIGITS)}","type":"UPDATE",${a.json[i].slice(1)}}`);
        expect(JSON.parse(line).data.announcements[0].prefixes).toEqual([i === 0 ? '10.3.0.0/24' : '10.3.1.0/24']);
        expect(b.lineEnd(i) - b.lineStart(i)).toBe(line.length);
      });
    }
  });
});

describe('UpdateEventLane', () => {
  let lane: UpdateEventLane | undefined;
  afterEach(async () => {
    await lane?.close();
    lane = undefined;
  });

  /** A lane whose handed-on events, failures and backed-up signals are recorded. */
  function make(o: { backlogBytes?: number; deferMs?: number } = {}) {
    const got: string[] = [];
    const errors: unknown[] = [];
    let backedUp = 0;
    const l = new UpdateEventLane(
      (peer, batch) => got.push(...batch.all().map((e) => `${peer} ${e.announcements![0].prefixes[0]}`)),
      (e) => errors.push(e),
      () => {},
      () => backedUp++,
      { backlogBytes: o.backlogBytes ?? 1 << 30, deferMs: o.deferMs ?? 60_000 },
    );
    lane = l;
    const add = (peer: number, ...prefixes: string[]) => {
      const { buffer, descriptors } = ring(
        prefixes.map((p) => update(p)),
        prefixes.map((_, i) => i * 100),
      );
      l.add(peer, CTX, l.arena.copy(buffer, descriptors, prefixes.length), { raw: false, time: 1 });
    };
    const handed = () => new Promise<void>((resolve) => l.after(resolve));
    return { lane: l, got, errors, add, handed, backedUp: () => backedUp };
  }

  it('hands on every batch in the order added', async () => {
    const t = make();
    for (let i = 0; i < 20; i++) t.add(1 + (i % 3), `10.4.${i}.0/24`, `10.5.${i}.0/24`);
    await t.handed();
    expect(t.got).toEqual(Array.from({ length: 20 }, (_, i) => [`${1 + (i % 3)} 10.4.${i}.0/24`, `${1 + (i % 3)} 10.5.${i}.0/24`]).flat());
    expect(t.errors).toEqual([]);
    expect(t.lane.backlog).toBe(0);
  });

  it("a batch's events carry who its peer was when it was added, whatever the peer is by the time they are handed on", async () => {
    const tags: unknown[] = [];
    const l = new UpdateEventLane(
      (_, batch) => tags.push(batch.tag),
      () => {},
      () => {},
      () => {},
    );
    lane = l;
    let name = 'first session';
    l.tag = (peer) => `${peer}: ${name}`;
    const who = {};
    l.hold(who);
    const { buffer, descriptors } = ring([update('10.6.9.0/24')], [0]);
    l.add(4, CTX, l.arena.copy(buffer, descriptors, 1), { raw: false, time: 1 });
    name = 'second session';
    l.release(who);
    await new Promise<void>((resolve) => l.after(resolve));
    expect(tags).toEqual(['4: first session']);
  });

  it('a holder keeps batches back until it lets go; after() waits for them', async () => {
    const t = make();
    const who = {};
    t.lane.hold(who);
    t.add(1, '10.6.0.0/24');
    t.add(1, '10.6.1.0/24');
    let done = false;
    const after = t.handed().then(() => (done = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(t.got).toEqual([]);
    expect(done).toBe(false);
    expect(t.lane.backlog).toBeGreaterThan(0);
    t.lane.release(who);
    await after;
    expect(t.got).toEqual(['1 10.6.0.0/24', '1 10.6.1.0/24']);
  });

  /** The RIB busy without a break for longer than the lane's window: loaded. */
  const loaded = async (l: UpdateEventLane) => {
    l.ribActive(true);
    await new Promise((r) => setTimeout(r, 250));
    expect(l.loaded).toBe(true);
  };

  it('goes at once while the RIB is mostly idle', async () => {
    const t = make();
    for (let i = 0; i < 5; i++) {
      t.lane.ribActive(true);
      t.lane.ribActive(false);
    }
    expect(t.lane.loaded).toBe(false);
    t.add(2, '10.7.9.0/24');
    await t.handed();
    expect(t.got).toEqual(['2 10.7.9.0/24']);
  });

  it('waits while the RIB is loaded, goes once it is idle', async () => {
    const t = make();
    await loaded(t.lane);
    t.add(2, '10.7.0.0/24');
    await new Promise((r) => setTimeout(r, 300));
    expect(t.got).toEqual([]);
    t.lane.ribActive(false);
    await t.handed();
    expect(t.got).toEqual(['2 10.7.0.0/24']);
    expect(t.lane.loaded).toBe(false);
  });

  it('while the RIB stays loaded, goes after the longest wait', async () => {
    const t = make({ deferMs: 400 });
    await loaded(t.lane);
    const t0 = performance.now();
    t.add(2, '10.8.0.0/24');
    await t.handed();
    expect(t.got).toEqual(['2 10.8.0.0/24']);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(390);
    expect(t.lane.loaded).toBe(true);
  });

  it('each batch waits for the loaded RIB at most the longest wait from when it was added, not one after another', async () => {
    const t = make({ deferMs: 300 });
    t.add(1, '10.8.9.0/24'); // the thread started while the RIB is idle
    await t.handed();
    await loaded(t.lane);
    const handedAt: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) t.add(2, `10.8.${10 + i}.0/24`);
    // Two go to the thread at a time: had the wait restarted for each pair, the last would come 1.2 s after the first.
    while (handedAt.length < 10) {
      const before = t.got.length;
      await new Promise((r) => setTimeout(r, 5));
      for (let i = before; i < t.got.length; i++) handedAt.push(performance.now() - t0);
    }
    expect(t.got.slice(1)).toEqual(Array.from({ length: 10 }, (_, i) => `2 10.8.${10 + i}.0/24`));
    expect(handedAt[0]).toBeGreaterThanOrEqual(290);
    expect(handedAt[9] - handedAt[0]).toBeLessThan(600);
  });

  it('after close, nothing more is handed on or reported', async () => {
    const t = make();
    await loaded(t.lane);
    t.add(3, '10.9.9.0/24');
    await t.lane.close();
    t.add(3, '10.9.8.0/24');
    await new Promise((r) => setTimeout(r, 300));
    expect(t.got).toEqual([]);
    expect(t.errors).toEqual([]);
    expect(t.lane.backlog).toBe(0);
  });

  it('past its bound the backlog goes whatever the RIB does, and those holding it are told', async () => {
    const t = make({ backlogBytes: 100 });
    await loaded(t.lane);
    const who = {};
    t.lane.hold(who);
    t.add(3, '10.9.0.0/24');
    expect(t.backedUp()).toBe(0);
    t.add(3, '10.9.1.0/24', '10.9.2.0/24'); // past 100 bytes
    expect(t.lane.full).toBe(true);
    expect(t.backedUp()).toBe(1);
    t.lane.release(who); // as the stream does, cutting its client off
    await t.handed();
    expect(t.got).toEqual(['3 10.9.0.0/24', '3 10.9.1.0/24', '3 10.9.2.0/24']);
    expect(t.lane.full).toBe(false);
    // A holder that comes while the backlog is full is told at once.
    t.lane.hold(who);
    t.add(3, '10.9.3.0/24', '10.9.4.0/24');
    expect(t.backedUp()).toBe(2);
    t.lane.release(who);
    await t.handed();
  });
});
