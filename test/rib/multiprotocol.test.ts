// IPv6 unicast (MP_REACH_NLRI / MP_UNREACH_NLRI, RFC 4760) from the bytes against the codec: the
// same random UPDATE streams, well-formed and malformed, IPv6 alone and mixed with IPv4, through
// an UpdateParser that reads MP attributes from the bytes and one that sends every such UPDATE
// through the codec (mpFromBytes false), each over its own RIB memory. Both must end the same
// way (the same NOTIFICATION, or none), count the same, report the same problems, produce the
// same operations (prefix keys, path ids, withdraw / announce order, attribute ids) and store the
// same attribute sets; the codec, run after the byte path over the same memory, must find every
// set the byte path interned under the same id. The byte path must be taken, and often.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BgpError } from '../../src/packet/index.js';
import { attributeBytes } from '../../src/rib/attrs.js';
import { allocateRib, IPV6, RibViews } from '../../src/rib/memory.js';
import { FAMILY_SHIFT, OP_WORDS, Ops, WITHDRAW } from '../../src/rib/ops.js';
import { UpdateParser, type PeerContext } from '../../src/rib/parse.js';
import { emptyResult, type BatchResult } from '../../src/rib/result.js';
import { join, makeCase, MUTATIONS, mutateOnce, Rng, syntheticSeed, traceSeeds, type RawAttr } from '../fuzz/mutate.js';
import type { RefContext } from '../fuzz/reference.js';

const LOCAL_AS = 65000;
const O = 0x80;
const T = 0x40;
const PARTIAL = 0x20;
const EXT = 0x10;

/** One side of the comparison: its own RIB memory and a parser over it. */
class Side {
  readonly ops = new Ops();
  readonly parser: UpdateParser;
  constructor(
    mpFromBytes: boolean,
    readonly views = new RibViews(allocateRib(LOCAL_AS, { shards: 4, prefixes: 256, prefixes6: 64, paths: 1024, attributeSets: 8192, attributeBytes: 128, attributeIndex: 1 << 15 })),
  ) {
    this.parser = new UpdateParser(this.views, this.ops);
    this.parser.mpFromBytes = mpFromBytes;
  }
  get sets(): number {
    return this.views.attributeSets;
  }
}

interface Outcome {
  error?: { code: number; subcode: number; data: number[]; message: string } | string;
  result: Omit<BatchResult, 'changes'>;
  /** Operations with each attribute id followed by its stored bytes (hex). Empty after an error: the batch is dropped. */
  ops: Array<number | string>;
}

/** One UPDATE through one side, as a worker parses it (not at offset 0 of its buffer). */
function parseOne(side: Side, msg: Uint8Array, peer: PeerContext): Outcome {
  const buf = new Uint8Array(msg.length + 5);
  buf.set(msg, 3);
  const result = emptyResult();
  side.ops.n = 0;
  let error: Outcome['error'];
  try {
    side.parser.parse(buf, 3, msg.length, peer, result);
  } catch (e) {
    error = e instanceof BgpError ? { code: e.code, subcode: e.subcode, data: [...e.data], message: e.message } : String(e);
  }
  const ops: Array<number | string> = [];
  if (!error) {
    const w = side.ops.words;
    for (let i = 0; i < side.ops.n * OP_WORDS; i++) {
      ops.push(w[i]);
      if (i % OP_WORDS === 7 && w[i] !== 0) ops.push(Buffer.from(attributeBytes(side.views, w[i])).toString('hex'));
    }
  }
  const { changes: _changes, ...counts } = result;
  return { error, result: counts, ops };
}

/** The byte path and the codec side by side; `check` each UPDATE. */
class Comparison {
  bytes = new Side(true);
  codec = new Side(false);
  /** The codec over the byte path's memory: every set must be there already, under the same id. */
  codecOverBytes = new Side(false, this.bytes.views);
  messages = 0;
  /** What the UPDATEs the byte path took came to, so the streams are seen to reach every verdict. */
  readonly seen = { reset: 0, treatAsWithdraw: 0, discard: 0, announced6: 0, withdrawn6: 0, mixed: 0, denied: 0 };

  check(msg: Uint8Array, peer: PeerContext): void {
    this.messages++;
    const taken = this.bytes.parser.taken.mpBytes;
    const a = parseOne(this.bytes, msg, peer);
    const b = parseOne(this.codec, msg, peer);
    if (this.bytes.parser.taken.mpBytes > taken) {
      const r = a.result;
      const s = this.seen;
      if (a.error) s.reset++;
      else {
        if (r.tawUpdates6 || r.tawUpdates4) s.treatAsWithdraw++;
        if (r.discarded6 || r.discarded4) s.discard++;
        if (r.filtered6) s.denied++;
        const w = this.bytes.ops.words;
        let announced6 = 0;
        for (let i = 0; i < this.bytes.ops.n; i++) {
          const lenFlags = w[i * OP_WORDS + 1];
          if (lenFlags >> FAMILY_SHIFT !== IPV6) continue;
          if (lenFlags & WITHDRAW) s.withdrawn6++;
          else announced6++;
        }
        s.announced6 += announced6;
        if (announced6 && hasNlriField(msg)) s.mixed++;
      }
    }
    const hex = Buffer.from(msg).toString('hex');
    expect(a, `${JSON.stringify(peer)} ${hex}`).toEqual(b);
    expect(this.bytes.sets, `sets interned, ${hex}`).toBe(this.codec.sets);
    if (this.bytes.parser.taken.mpBytes > taken) {
      const before = this.bytes.sets;
      const c = parseOne(this.codecOverBytes, msg, peer);
      expect(c, `the codec over the byte path's memory, ${hex}`).toEqual(a);
      expect(this.bytes.sets, `no new set, ${hex}`).toBe(before);
    }
  }
}

/** The UPDATE has an NLRI field (IPv4 prefixes outside MP_REACH_NLRI). */
function hasNlriField(msg: Uint8Array): boolean {
  const wLen = (msg[19] << 8) | msg[20];
  const aLen = (msg[21 + wLen] << 8) | msg[22 + wLen];
  return 23 + wLen + aLen < msg.length;
}

function peerContext(ctx: RefContext, imp: 'accept' | 'deny'): PeerContext {
  return { asn4: ctx.asn4, ebgp: ctx.ebgp, addPath: ctx.addPath4, addPath6: ctx.addPath6, import: imp };
}

// ---------------------------------------------------------------------------------------------
// UPDATEs built attribute by attribute (fast-check)

const u32 = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const anyU32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });

/** A prefix of `afi` as NLRI octets: [path id] length prefix; host bits may be set, as senders do. */
const prefix = (afi: 1 | 2, addPath: boolean) =>
  fc
    .record({
      len: afi === 1 ? fc.oneof(fc.integer({ min: 0, max: 32 }), fc.constantFrom(24, 24, 22, 16)) : fc.oneof(fc.integer({ min: 0, max: 128 }), fc.constantFrom(32, 48, 48, 56, 64)),
      net: bytes(16, 16),
      pathId: fc.oneof(fc.constantFrom(0, 1, 2), anyU32),
      sameNet: fc.boolean(),
    })
    .map(({ len, net, pathId, sameNet }) => {
      // A few networks only, so paths meet and replace each other.
      const n = sameNet ? Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) : net;
      return [...(addPath ? u32(pathId) : []), len, ...n.subarray(0, (len + 7) >> 3)];
    });

const prefixList = (afi: 1 | 2, addPath: boolean, max: number) => fc.array(prefix(afi, addPath), { maxLength: max }).map((l) => l.flat());

/** Flags as the table wants them, or with the Partial / Extended Length bit, or wrong. */
const flagsFor = (want: number) => fc.oneof({ weight: 8, arbitrary: fc.constant(want) }, fc.constant(want | PARTIAL), fc.constant(want | EXT), fc.constant(want ^ T), fc.integer({ min: 0, max: 255 }));

const attr = (type: number, want: number, value: fc.Arbitrary<number[] | Uint8Array>): fc.Arbitrary<RawAttr> =>
  fc.record({ flags: flagsFor(want), value }).map(({ flags, value }) => ({ flags, type, value: Uint8Array.from(value) }));

const asPath = fc
  .array(fc.record({ type: fc.oneof({ weight: 6, arbitrary: fc.constant(2) }, fc.constantFrom(1, 3, 4, 0, 5)), asns: fc.array(fc.oneof(fc.constantFrom(65001, 3356, LOCAL_AS), anyU32), { minLength: 1, maxLength: 4 }) }), { maxLength: 3 })
  .map((segs) => segs.flatMap((s) => [s.type, s.asns.length, ...s.asns.flatMap(u32)]));

/** MP_REACH_NLRI: IPv6 unicast mostly; now and then another family (the codec takes those) or a bad next hop. */
const mpReach = (ctx: RefContext) =>
  fc
    .record({
      family: fc.oneof({ weight: 12, arbitrary: fc.constant([0, 2, 1]) }, fc.constantFrom([0, 1, 1], [0, 2, 2], [0, 2, 128])),
      nhLen: fc.oneof({ weight: 10, arbitrary: fc.constantFrom(16, 32) }, fc.constantFrom(4, 0, 24)),
      nh: bytes(32, 32),
      reserved: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 255 })),
      nlri6: prefixList(2, ctx.addPath6, 8),
      nlri4: prefixList(1, ctx.addPath4, 4),
    })
    .map(({ family, nhLen, nh, reserved, nlri6, nlri4 }) => [...family, nhLen, ...nh.subarray(0, nhLen), reserved, ...(family[1] === 1 ? nlri4 : nlri6)]);

const mpUnreach = (ctx: RefContext) =>
  fc
    .record({ family: fc.oneof({ weight: 12, arbitrary: fc.constant([0, 2, 1]) }, fc.constantFrom([0, 1, 1], [0, 2, 2])), nlri6: prefixList(2, ctx.addPath6, 6), nlri4: prefixList(1, ctx.addPath4, 3) })
    .map(({ family, nlri6, nlri4 }) => [...family, ...(family[1] === 1 ? nlri4 : nlri6)]);

/** Now and then: attributes that are malformed, repeated, unknown, long or out of place. */
const oddAttr = fc.oneof(
  attr(1, T, fc.constantFrom([3], [0, 0], [])), // ORIGIN
  attr(3, T, bytes(3, 5)), // NEXT_HOP of the wrong length
  attr(5, T, bytes(4, 4)), // LOCAL_PREF (from an external peer: discarded)
  attr(6, T, bytes(0, 2)), // ATOMIC_AGGREGATE
  attr(7, O | T, bytes(6, 8)), // AGGREGATOR
  attr(8, O | T, bytes(0, 300)), // COMMUNITIES (long ones take the Extended Length bit)
  attr(9, O, bytes(3, 4)), // ORIGINATOR_ID
  attr(10, O, bytes(4, 8)), // CLUSTER_LIST
  attr(16, O | T, bytes(7, 16)), // EXTENDED_COMMUNITIES
  attr(17, O | T, fc.constant([2, 1, 0, 0, 0xfd, 0xe9])), // AS4_PATH (from a 4-octet-AS peer: discarded)
  attr(18, O | T, bytes(8, 8)), // AS4_AGGREGATOR
  attr(32, O | T, bytes(11, 24)), // LARGE_COMMUNITY
  attr(35, O | T, bytes(3, 5)), // OTC
  fc.record({ type: fc.constantFrom(0, 22, 26, 40, 99, 128, 255), flags: fc.constantFrom(O, O | T, O | T | PARTIAL, O | EXT), value: bytes(0, 8) }), // unknown optional
  fc.record({ type: fc.constantFrom(19, 99), flags: fc.constant(T), value: bytes(0, 3) }), // unknown well-known: reset
);

/** One UPDATE for a session `ctx`, as octets: a mostly well-formed announcement / withdrawal, shuffled, maybe mutated. */
const update = (ctx: RefContext) =>
  fc
    .record({
      origin: fc.option(attr(1, T, fc.constantFrom([0], [1], [2])), { freq: 12 }),
      asPath: fc.option(attr(2, T, asPath), { freq: 12 }),
      nextHop: fc.option(attr(3, T, bytes(4, 4)), { freq: 3 }),
      med: fc.option(attr(4, O, bytes(4, 4))),
      localPref: fc.option(attr(5, T, bytes(4, 4)), { freq: ctx.ebgp ? 1 : 8 }),
      communities: fc.option(attr(8, O | T, fc.array(anyU32, { minLength: 1, maxLength: 6 }).map((cs) => cs.flatMap(u32)))),
      large: fc.option(attr(32, O | T, fc.array(anyU32, { minLength: 3, maxLength: 6 }).map((cs) => cs.slice(0, 3).flatMap(u32)))),
      reach: fc.option(attr(14, O, mpReach(ctx)), { freq: 8, nil: null }),
      unreach: fc.option(attr(15, O, mpUnreach(ctx)), { freq: 2, nil: null }),
      odd: fc.array(oddAttr, { maxLength: 2 }),
      oddCount: fc.nat(5),
      withdrawn4: fc.oneof({ weight: 6, arbitrary: fc.constant([]) }, prefixList(1, ctx.addPath4, 4)),
      nlri4: fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, prefixList(1, ctx.addPath4, 4)),
      order: fc.oneof(fc.constant(0), fc.integer()),
      mutations: fc.oneof({ weight: 5, arbitrary: fc.constant([]) }, fc.array(fc.constantFrom(...MUTATIONS), { minLength: 1, maxLength: 2 })),
      seed: fc.integer(),
    })
    .map((u) => {
      const attrs: RawAttr[] = [u.origin, u.asPath, u.nextHop, u.med, u.localPref, u.communities, u.large, u.reach, u.unreach].filter((a): a is RawAttr => !!a);
      if (u.oddCount === 0) attrs.push(...u.odd);
      // RFC 7606 §5.1 wants MP attributes first; senders put them anywhere.
      if (u.order !== 0) {
        const r = new Rng(u.order);
        for (let i = attrs.length - 1; i > 0; i--) {
          const j = r.int(i + 1);
          [attrs[i], attrs[j]] = [attrs[j], attrs[i]];
        }
      }
      let msg = join({ withdrawn: Uint8Array.from(u.withdrawn4), attrs, nlri: Uint8Array.from(u.nlri4) });
      const r = new Rng(u.seed);
      for (const k of u.mutations) msg = mutateOnce(msg, ctx, r, k);
      return msg;
    });

const session = fc.record({ asn4: fc.constant(true), ebgp: fc.boolean(), addPath4: fc.boolean(), addPath6: fc.boolean() });
const stream = session.chain((ctx) =>
  fc.record({ ctx: fc.constant(ctx), import: fc.oneof({ weight: 5, arbitrary: fc.constant('accept' as const) }, fc.constant('deny' as const)), updates: fc.array(update(ctx), { minLength: 1, maxLength: 16 }) }),
);

describe('IPv6 unicast from the bytes, against the codec', () => {
  it('random UPDATE streams (IPv6, mixed with IPv4, malformed): same verdicts, counters, operations, stored sets and ids', () => {
    let messages = 0;
    let fromBytes = 0;
    const seen: Record<string, number> = {};
    fc.assert(
      fc.property(stream, ({ ctx, import: imp, updates }) => {
        const cmp = new Comparison();
        for (const msg of updates) cmp.check(msg, peerContext(ctx, imp));
        messages += cmp.messages;
        fromBytes += cmp.bytes.parser.taken.mpBytes;
        for (const [k, n] of Object.entries(cmp.seen)) seen[k] = (seen[k] ?? 0) + n;
        expect(cmp.codec.parser.taken.mpBytes).toBe(0);
      }),
      { numRuns: 400, seed: 4760 },
    );
    // Not a comparison of the codec with itself: most of these UPDATEs took the byte path, and
    // they came to every verdict.
    expect(fromBytes, `${fromBytes} of ${messages} UPDATEs through the byte path`).toBeGreaterThan(messages * 0.4);
    for (const [k, n] of Object.entries(seen)) expect(n, `${k}: ${JSON.stringify(seen)}`).toBeGreaterThan(10);
  });

  it('the differential fuzzer\'s cases (real UPDATE traces and synthetic seeds, mutated)', async () => {
    const seeds = await traceSeeds(300);
    const rng = new Rng(4760);
    for (let i = 0; i < 300; i++) seeds.push(syntheticSeed(rng));
    let cmp = new Comparison();
    let messages = 0;
    let fromBytes = 0;
    for (let i = 0; i < 6000; i++) {
      if (i % 500 === 0) {
        messages += cmp.messages;
        fromBytes += cmp.bytes.parser.taken.mpBytes;
        cmp = new Comparison();
      }
      const c = makeCase(seeds, rng);
      cmp.check(c.msg, peerContext(c.ctx, rng.chance(0.85) ? 'accept' : 'deny'));
    }
    messages += cmp.messages;
    fromBytes += cmp.bytes.parser.taken.mpBytes;
    expect(fromBytes, `${fromBytes} of ${messages} UPDATEs through the byte path`).toBeGreaterThan(messages * 0.05);
  });
});
