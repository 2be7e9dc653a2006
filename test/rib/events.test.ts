// The live feed of received UPDATEs (rib/events.ts): copied once their batch is applied,
// decoded on the events' thread into RIS Live's shape, handed on by the pipeline in batch order
// after each batch's 'changes' (eventLane.ts).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  AsPathSegmentType,
  AttrFlag,
  AttrType,
  encodeEndOfRib,
  encodeUpdate,
  ipv4ToNumber,
  type CodecContext,
  type PathAttribute,
  type Prefix,
} from '../../src/packet/index.js';
import type { PeerContext } from '../../src/rib/apply.js';
import type { UpdateEvent, UpdateEventBatch } from '../../src/rib/events.js';
import { RibPipeline } from '../../src/rib/pipeline.js';
import { lookup } from '../../src/rib/query.js';

const LOCAL_AS = 65000;
const T = AttrFlag.Transitive;
const O = AttrFlag.Optional;

const EBGP: PeerContext = { asn4: true, ebgp: true, addPath: false, import: 'accept' };
const IBGP: PeerContext = { asn4: true, ebgp: false, addPath: false, import: 'accept' };

let rib: RibPipeline;
/** Peer indexes: external 65001, internal, external 65002 (a 2-octet-AS session), spares for ordering. */
const peers: number[] = [];

beforeAll(() => {
  rib = new RibPipeline({ localAs: LOCAL_AS, workers: 3, sizing: { shards: 8, prefixes: 4096, prefixes6: 2048, paths: 65536, attributeSets: 65536 } });
  const info = (asn: number, i: number) => ({ asn, routerId: ipv4ToNumber(`10.0.0.${i}`), address: ipv4ToNumber(`192.0.2.${i}`), ibgp: asn === LOCAL_AS });
  [65001, LOCAL_AS, 65002, 65003, 65004, 65005].forEach((asn, i) => peers.push(rib.addPeer(info(asn, i + 1))));
});
afterAll(async () => {
  await rib.close();
});

const p = (...prefixes: string[]): Prefix[] => prefixes.map((prefix) => ({ prefix }));
const codec = (ctx: PeerContext): CodecContext => ({ asn4: ctx.asn4, ebgp: ctx.ebgp, addPath: { ipv4: ctx.addPath, ipv6: ctx.addPath6 } });

function base(path: number[], nextHop = '198.18.0.1'): PathAttribute[] {
  return [
    { type: AttrType.ORIGIN, flags: T, origin: 0 },
    { type: AttrType.AS_PATH, flags: T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns: path }] },
    { type: AttrType.NEXT_HOP, flags: T, nextHop },
  ];
}

/** The messages placed in shared memory (not at offset 0, as in the ring) and submitted as one batch. */
function submit(peer: number, ctx: PeerContext, msgs: Uint8Array[]) {
  const total = msgs.reduce((s, m) => s + m.length, 0);
  const sab = new SharedArrayBuffer(total + 5);
  const bytes = new Uint8Array(sab);
  const desc = new Uint32Array(msgs.length * 2);
  let off = 3;
  msgs.forEach((m, i) => {
    bytes.set(m, off);
    desc[i * 2] = off;
    desc[i * 2 + 1] = m.length;
    off += m.length;
  });
  return rib.submitUpdates(peer, ctx, sab, desc);
}

/** Every 'updates' event emitted while fn runs, with its peer, and the results. */
async function watch(fn: () => Promise<unknown>): Promise<Array<{ peer: number; events: UpdateEvent[] }>> {
  const got: Array<{ peer: number; events: UpdateEvent[] }> = [];
  const on = (peer: number, batch: UpdateEventBatch) => got.push({ peer, events: batch.all() });
  rib.on('updates', on);
  try {
    await fn();
    await rib.updatesHandedOn();
  } finally {
    rib.off('updates', on);
  }
  return got;
}

/** The main thread's clock while a batch is submitted (the workers keep the real one). */
const SUBMITTED_MS = 1_700_000_000_123;

/** The events of one batch submitted in `mode`, after checking their timestamp. */
async function eventsOf(peer: number, ctx: PeerContext, msgs: Uint8Array[], mode: 'decoded' | 'raw' = 'decoded'): Promise<UpdateEvent[]> {
  rib.watchUpdates(mode);
  const got = await watch(async () => {
    const clock = vi.spyOn(Date, 'now').mockReturnValue(SUBMITTED_MS);
    const pending = submit(peer, ctx, msgs);
    clock.mockRestore();
    expect((await pending).error).toBeUndefined();
  });
  rib.watchUpdates('off');
  expect(got.length).toBe(1);
  expect(got[0].peer).toBe(peer);
  for (const e of got[0].events) expect(e.timestamp).toBe(SUBMITTED_MS / 1000);
  return got[0].events.map(({ timestamp: _, ...e }) => e as UpdateEvent);
}

describe('UPDATE events', () => {
  it('IPv4: withdrawn routes, NLRI with NEXT_HOP and every attribute field', async () => {
    const attrs: PathAttribute[] = [
      ...base([65010, 3356]),
      { type: AttrType.MULTI_EXIT_DISC, flags: O, med: 42 },
      { type: AttrType.LOCAL_PREF, flags: T, localPref: 150 },
      { type: AttrType.ATOMIC_AGGREGATE, flags: T },
      { type: AttrType.AGGREGATOR, flags: O | T, asn: 3356, address: '192.0.2.77' },
      { type: AttrType.OTC, flags: O | T, otc: 65010 },
    ];
    const msg = encodeUpdate({ withdrawn: p('10.9.0.0/16'), attributes: attrs, nlri: p('10.1.0.0/24', '10.1.1.0/24') }, codec(IBGP));
    expect(await eventsOf(peers[1], IBGP, [msg])).toEqual([
      {
        path: [65010, 3356],
        origin: 'IGP',
        med: 42,
        local_pref: 150,
        atomic_aggregate: true,
        aggregator: '3356:192.0.2.77',
        otc: 65010,
        announcements: [{ next_hop: '198.18.0.1', prefixes: ['10.1.0.0/24', '10.1.1.0/24'] }],
        withdrawals: ['10.9.0.0/16'],
      },
    ]);
  });

  it('a pure withdrawal has withdrawals only', async () => {
    const msg = encodeUpdate({ withdrawn: p('10.1.0.0/24', '10.1.1.0/24'), attributes: [], nlri: [] }, codec(EBGP));
    expect(await eventsOf(peers[0], EBGP, [msg])).toEqual([{ withdrawals: ['10.1.0.0/24', '10.1.1.0/24'] }]);
  });

  it('IPv6: MP_REACH_NLRI per its next hop (global,link-local) and MP_UNREACH_NLRI', async () => {
    const reach: PathAttribute = { type: AttrType.MP_REACH_NLRI, flags: O, afi: 2, safi: 1, nextHops: ['2001:db8::1', 'fe80::1'], nlri: p('2001:db8:1::/48', '2001:db8:2::/48') };
    const unreach: PathAttribute = { type: AttrType.MP_UNREACH_NLRI, flags: O, afi: 2, safi: 1, withdrawn: p('2001:db8:9::/48') };
    const announce = encodeUpdate({ withdrawn: [], attributes: [...base([65001]).filter((a) => a.type !== AttrType.NEXT_HOP), reach], nlri: [] }, codec(EBGP));
    const withdraw = encodeUpdate({ withdrawn: [], attributes: [unreach], nlri: [] }, codec(EBGP));
    expect(await eventsOf(peers[0], EBGP, [announce, withdraw])).toEqual([
      { path: [65001], origin: 'IGP', announcements: [{ next_hop: '2001:db8::1,fe80::1', prefixes: ['2001:db8:1::/48', '2001:db8:2::/48'] }] },
      { withdrawals: ['2001:db8:9::/48'] },
    ]);
  });

  it('IPv4 NLRI and MP_REACH in one UPDATE: one entry per next hop', async () => {
    const reach: PathAttribute = { type: AttrType.MP_REACH_NLRI, flags: O, afi: 2, safi: 1, nextHops: ['2001:db8::7'], nlri: p('2001:db8:7::/48') };
    const msg = encodeUpdate({ withdrawn: [], attributes: [...base([65001], '198.18.0.7'), reach], nlri: p('10.7.0.0/24') }, codec(EBGP));
    const [e] = await eventsOf(peers[0], EBGP, [msg]);
    expect(e.announcements).toEqual([
      { next_hop: '198.18.0.7', prefixes: ['10.7.0.0/24'] },
      { next_hop: '2001:db8::7', prefixes: ['2001:db8:7::/48'] },
    ]);
  });

  it('AS_SET and AS_CONFED_SET nested, AS_CONFED_SEQUENCE inline', async () => {
    const segments = [
      { type: AsPathSegmentType.AS_CONFED_SEQUENCE, asns: [65100, 65101] },
      { type: AsPathSegmentType.AS_CONFED_SET, asns: [65102, 65103] },
      { type: AsPathSegmentType.AS_SEQUENCE, asns: [65010, 174] },
      { type: AsPathSegmentType.AS_SET, asns: [64512, 64513] },
    ];
    const attrs: PathAttribute[] = [...base([]), { type: AttrType.LOCAL_PREF, flags: T, localPref: 100 }];
    (attrs[1] as { segments: unknown }).segments = segments;
    const msg = encodeUpdate({ withdrawn: [], attributes: attrs, nlri: p('10.2.0.0/24') }, codec(IBGP));
    const [e] = await eventsOf(peers[1], IBGP, [msg]);
    expect(e.path).toEqual([65100, 65101, [65102, 65103], 65010, 174, [64512, 64513]]);
  });

  it('communities of all three kinds', async () => {
    const ext = Uint8Array.from([0x00, 0x02, 0xfd, 0xe9, 0x00, 0x00, 0x00, 0x64]);
    const attrs: PathAttribute[] = [
      ...base([65001]),
      { type: AttrType.COMMUNITIES, flags: O | T, communities: [65001 * 65536 + 7, 0xffffff01] },
      { type: AttrType.EXTENDED_COMMUNITIES, flags: O | T, extendedCommunities: [ext] },
      { type: AttrType.LARGE_COMMUNITY, flags: O | T, largeCommunities: [[4200000001, 1, 2]] },
    ];
    const [e] = await eventsOf(peers[0], EBGP, [encodeUpdate({ withdrawn: [], attributes: attrs, nlri: p('10.3.0.0/24') }, codec(EBGP))]);
    expect(e.community).toEqual([[65001, 7], [65535, 65281]]);
    expect(e.extended_community).toEqual(['0002fde900000064']);
    expect(e.large_community).toEqual([[4200000001, 1, 2]]);
  });

  it('a 2-octet-AS session: AS4_PATH and AS4_AGGREGATOR merged back', async () => {
    const ctx: PeerContext = { ...EBGP, asn4: false };
    const attrs: PathAttribute[] = [
      ...base([65002, 23456]),
      { type: AttrType.AGGREGATOR, flags: O | T, asn: 23456, address: '192.0.2.8' },
      { type: AttrType.AS4_PATH, flags: O | T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [65002, 4200000002] }] },
      { type: AttrType.AS4_AGGREGATOR, flags: O | T, asn: 4200000002, address: '192.0.2.8' },
    ];
    const [e] = await eventsOf(peers[2], ctx, [encodeUpdate({ withdrawn: [], attributes: attrs, nlri: p('10.4.0.0/24') }, codec(ctx))]);
    expect(e.path).toEqual([65002, 4200000002]);
    expect(e.aggregator).toBe('4200000002:192.0.2.8');
  });

  it("mode 'raw': the whole message in uppercase hex", async () => {
    const a = encodeUpdate({ withdrawn: [], attributes: base([65001]), nlri: p('10.5.0.0/24') }, codec(EBGP));
    const b = encodeUpdate({ withdrawn: p('10.5.0.0/24'), attributes: [], nlri: [] }, codec(EBGP));
    const events = await eventsOf(peers[0], EBGP, [a, b], 'raw');
    expect(events.map((e) => e.raw)).toEqual([Buffer.from(a).toString('hex').toUpperCase(), Buffer.from(b).toString('hex').toUpperCase()]);
    expect(events[0].announcements).toEqual([{ next_hop: '198.18.0.1', prefixes: ['10.5.0.0/24'] }]);
    // 'decoded' leaves it out.
    const [d] = await eventsOf(peers[0], EBGP, [a]);
    expect(d.raw).toBeUndefined();
  });

  it("mode 'off' emits nothing, and only batches submitted while watching carry events", async () => {
    const msg = () => encodeUpdate({ withdrawn: [], attributes: base([65001]), nlri: p('10.6.0.0/24') }, codec(EBGP));
    rib.watchUpdates('off');
    const off = await watch(() => submit(peers[0], EBGP, [msg()]));
    expect(off).toEqual([]);
    // Switched on after one submission and off after the next: only the second one counts.
    const mixed = await watch(async () => {
      const first = submit(peers[0], EBGP, [msg()]);
      rib.watchUpdates('decoded');
      const second = submit(peers[0], EBGP, [msg()]);
      rib.watchUpdates('off');
      const third = submit(peers[0], EBGP, [msg()]);
      await Promise.all([first, second, third]);
    });
    expect(mixed.length).toBe(1);
  });

  it('each watcher asks on its own: the most demanding one decides, and off only once all are off', async () => {
    const msg = () => encodeUpdate({ withdrawn: [], attributes: base([65001]), nlri: p('10.6.1.0/24') }, codec(EBGP));
    const stream = {};
    const feed = {};
    const rawOf = async () => (await watch(() => submit(peers[0], EBGP, [msg()]))).map((g) => g.events[0].raw !== undefined);
    rib.watchUpdates('decoded', stream);
    rib.watchUpdates('raw', feed);
    expect(await rawOf()).toEqual([true]);
    rib.watchUpdates('off', feed);
    expect(await rawOf()).toEqual([false]);
    rib.watchUpdates('raw', feed);
    rib.watchUpdates('off', stream);
    expect(await rawOf()).toEqual([true]);
    rib.watchUpdates('off', feed);
    expect(await rawOf()).toEqual([]);
  });

  it('afterHandedOn runs right after the batches submitted before it, ahead of later ones', async () => {
    const msg = () => encodeUpdate({ withdrawn: [], attributes: base([65001]), nlri: p('10.6.2.0/24') }, codec(EBGP));
    const order: string[] = [];
    const on = () => order.push('batch');
    rib.on('changes', on);
    try {
      rib.afterHandedOn(() => order.push('idle'));
      const first = [submit(peers[0], EBGP, [msg()]), submit(peers[1], EBGP, [msg()])];
      rib.afterHandedOn(() => order.push('after two'));
      const third = submit(peers[0], EBGP, [msg()]);
      await Promise.all([...first, third]);
    } finally {
      rib.off('changes', on);
    }
    expect(order).toEqual(['idle', 'batch', 'batch', 'after two', 'batch']);
  });

  it('announcements the import policy keeps out are reported all the same', async () => {
    const deny: PeerContext = { ...EBGP, import: 'deny' };
    const msg = encodeUpdate({ withdrawn: [], attributes: base([65003]), nlri: p('10.8.0.0/24') }, codec(deny));
    rib.watchUpdates('decoded');
    let seen: ReturnType<typeof lookup> | null = null;
    const got = await watch(async () => {
      const on = () => (seen = lookup(rib.views, '10.8.0.0/24'));
      rib.once('updates', on);
      const r = await submit(peers[3], deny, [msg]);
      expect(r.filtered).toBe(1);
    });
    rib.watchUpdates('off');
    expect(got.map((g) => g.events.map((e) => e.announcements))).toEqual([[[{ next_hop: '198.18.0.1', prefixes: ['10.8.0.0/24'] }]]]);
    expect(seen).toEqual([]); // filtered indeed: not in the RIB
  });

  it('treat-as-withdraw: the announced prefixes reported as withdrawals, nothing else', async () => {
    const attrs = base([65001]);
    (attrs[0] as { origin: number }).origin = 7; // undefined ORIGIN (RFC 7606 §7.1)
    const msg = encodeUpdate({ withdrawn: p('10.9.9.0/24'), attributes: attrs, nlri: p('10.10.0.0/24') }, codec(EBGP));
    expect(await eventsOf(peers[0], EBGP, [msg])).toEqual([{ withdrawals: ['10.9.9.0/24', '10.10.0.0/24'] }]);
  });

  it('End-of-RIB markers make no event', async () => {
    const msg = encodeUpdate({ withdrawn: [], attributes: base([65001]), nlri: p('10.11.0.0/24') }, codec(EBGP));
    const events = await eventsOf(peers[0], EBGP, [encodeEndOfRib({ afi: 1, safi: 1 }), msg, encodeEndOfRib({ afi: 2, safi: 1 })]);
    expect(events.map((e) => e.announcements?.[0].prefixes)).toEqual([['10.11.0.0/24']]);
  });

  it('an UPDATE that resets the session: events before it, none for it, its batch or later ones until the flush', async () => {
    const peer = peers[4];
    const good = (prefix: string) => encodeUpdate({ withdrawn: [], attributes: base([65004]), nlri: p(prefix) }, codec(EBGP));
    const bad = good('10.12.9.0/24');
    bad[bad.length - 4] = 33; // the NLRI's prefix length: longer than 32 bits (RFC 7606 §5.3)
    rib.watchUpdates('decoded');
    const got = await watch(async () => {
      const broken = submit(peer, EBGP, [good('10.12.1.0/24'), bad, good('10.12.2.0/24')]);
      const later = submit(peer, EBGP, [good('10.12.3.0/24')]); // in flight before the error is known
      expect((await broken).error?.code).toBe(3);
      await later;
      await rib.flushPeer(peer);
      await submit(peer, EBGP, [good('10.12.4.0/24')]); // the next session
    });
    rib.watchUpdates('off');
    expect(got.map((g) => g.events.map((e) => e.announcements![0].prefixes[0]))).toEqual([['10.12.1.0/24'], ['10.12.4.0/24']]);
  });

  it('ADD-PATH: path identifiers beside the prefixes and the withdrawals', async () => {
    const ctx: PeerContext = { ...EBGP, addPath: true };
    const msg = encodeUpdate(
      { withdrawn: [{ prefix: '10.13.9.0/24', pathId: 9 }], attributes: base([65001]), nlri: [{ prefix: '10.13.0.0/24', pathId: 1 }, { prefix: '10.13.0.0/24', pathId: 2 }] },
      codec(ctx),
    );
    const unreach: PathAttribute = { type: AttrType.MP_UNREACH_NLRI, flags: O, afi: 2, safi: 1, withdrawn: p('2001:db8:13::/48') };
    const v6 = encodeUpdate({ withdrawn: [], attributes: [unreach], nlri: [] }, codec(ctx));
    expect(await eventsOf(peers[0], ctx, [msg, v6])).toEqual([
      {
        path: [65001],
        origin: 'IGP',
        announcements: [{ next_hop: '198.18.0.1', prefixes: ['10.13.0.0/24', '10.13.0.0/24'], path_id: [1, 2] }],
        withdrawals: ['10.13.9.0/24'],
        withdrawal_path_ids: [9],
      },
      // IPv6 without ADD-PATH on this session: 0, the id the RIB keeps it under.
      { withdrawals: ['2001:db8:13::/48'], withdrawal_path_ids: [0] },
    ]);
  });

  it("events in submission order, each batch's after its 'changes', the RIB already holding them", async () => {
    const log: string[] = [];
    const onChanges = (_: unknown, peer: number) => log.push(`changes ${peer}`);
    const onUpdates = (peer: number, batch: UpdateEventBatch) => {
      for (const e of batch.all()) {
        const prefix = e.announcements![0].prefixes[0];
        const held = lookup(rib.views, prefix).some((x) => x.peer === peer);
        log.push(`updates ${peer} ${prefix} ${held ? 'held' : 'missing'}`);
      }
    };
    rib.on('changes', onChanges);
    rib.on('updates', onUpdates);
    rib.watchUpdates('decoded');
    const want: string[] = [];
    const wantUpdates: string[] = [];
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      const peer = peers[i % peers.length];
      const ctx = peer === peers[1] ? IBGP : peer === peers[2] ? { ...EBGP, asn4: false } : EBGP;
      const attrs = ctx === IBGP ? [...base([65010]), { type: AttrType.LOCAL_PREF, flags: T, localPref: 100 } as PathAttribute] : base([65001 + i]);
      const prefix = `10.20.${i}.0/24`;
      pending.push(submit(peer, ctx, [encodeUpdate({ withdrawn: [], attributes: attrs, nlri: p(prefix) }, codec(ctx))]));
      want.push(`changes ${peer}`);
      wantUpdates.push(`updates ${peer} ${prefix} held`);
    }
    await Promise.all(pending);
    await rib.updatesHandedOn();
    rib.watchUpdates('off');
    rib.off('changes', onChanges);
    rib.off('updates', onUpdates);
    expect(log.filter((l) => l.startsWith('changes'))).toEqual(want);
    expect(log.filter((l) => l.startsWith('updates'))).toEqual(wantUpdates);
    // Each batch's events come after its changes: the k-th updates line after the k-th changes line.
    const changesAt = log.flatMap((l, i) => (l.startsWith('changes') ? [i] : []));
    const updatesAt = log.flatMap((l, i) => (l.startsWith('updates') ? [i] : []));
    updatesAt.forEach((at, k) => expect(at).toBeGreaterThan(changesAt[k]));
  });

  it("a listener's exception goes to 'listenerError' and later batches are still handed on", async () => {
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    const boom = () => {
      throw new Error('listener failed');
    };
    rib.on('listenerError', onError);
    rib.watchUpdates('decoded');
    const msg = (prefix: string) => encodeUpdate({ withdrawn: [], attributes: base([65001]), nlri: p(prefix) }, codec(EBGP));
    const got = await watch(async () => {
      rib.once('updates', boom); // after watch()'s listener, which still sees the first batch
      await submit(peers[0], EBGP, [msg('10.21.0.0/24')]);
      await submit(peers[0], EBGP, [msg('10.21.1.0/24')]);
    });
    rib.watchUpdates('off');
    rib.off('listenerError', onError);
    expect(errors.map((e) => (e as Error).message)).toEqual(['listener failed']);
    expect(got.map((g) => g.events[0].announcements![0].prefixes)).toEqual([['10.21.0.0/24'], ['10.21.1.0/24']]);
  });
});
