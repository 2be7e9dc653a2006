// Seeds and a seeded mutator for UPDATE messages: real UPDATEs from the BGP4MP traces in the
// shared data folder, synthetic ones from the codec's encoder, and mutations aimed at the
// length fields, flags, repeats and per-attribute rules of RFC 4271 §6.3 / RFC 7606.

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { encodeUpdate, type PathAttribute, type Prefix } from '../../src/packet/index.js';
import { readUpdates } from '../../src/harness/tablegen/mrt.js';
import { sharedFile } from '../helpers/env.js';
import type { RefContext } from './reference.js';

/** A small fast seeded PRNG (sfc32). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.next();
  }
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 4294967296) * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() / 4294967296 < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

export interface Seed {
  msg: Uint8Array;
  ctx: RefContext;
  origin: string;
}

// ---------------------------------------------------------------------------------------------
// Seeds

/**
 * Real UPDATEs from every BGP4MP trace in data/mrt/updates (read with ribstorm's MRT reader),
 * up to `perFile` from each, spread over the file. Empty when the shared folder is missing.
 */
export async function traceSeeds(perFile = 1500): Promise<Seed[]> {
  const marker = sharedFile('data/mrt/updates');
  if (!marker) return [];
  const out: Seed[] = [];
  for (const name of readdirSync(marker).sort()) {
    const all: Seed[] = [];
    try {
      for await (const u of readUpdates(path.join(marker, name))) {
        if (u.message.length < 23 || u.message.length > 4096) continue;
        all.push({
          msg: Uint8Array.from(u.message),
          // Collector feeds are external peers; the fuzzer varies the context later.
          ctx: { asn4: u.asn4, ebgp: true, addPath4: u.addPath, addPath6: u.addPath },
          origin: name,
        });
      }
    } catch {
      continue; // an unreadable file (no bzcat, say) only costs its seeds
    }
    const step = Math.max(1, Math.floor(all.length / perFile));
    for (let i = 0; i < all.length && out.length < 1e6; i += step) out.push(all[i]);
  }
  return out;
}

function randomPrefix(rng: Rng, afi: 1 | 2, addPath: boolean): Prefix {
  const len = afi === 1 ? rng.pick([0, 8, 16, 19, 22, 24, 24, 24, 25, 31, 32, rng.int(33)]) : rng.pick([0, 32, 48, 48, 64, 127, 128, rng.int(129)]);
  const bytes = rng.bytes(afi === 1 ? 4 : 16);
  // clear host bits so the text form is canonical
  for (let i = 0; i < bytes.length; i++) {
    const bit = i * 8;
    if (bit >= len) bytes[i] = 0;
    else if (bit + 8 > len) bytes[i] &= (0xff << (8 - (len - bit))) & 0xff;
  }
  let text: string;
  if (afi === 1) text = `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}/${len}`;
  else {
    const g: string[] = [];
    for (let i = 0; i < 8; i++) g.push(((bytes[2 * i] << 8) | bytes[2 * i + 1]).toString(16));
    text = `${g.join(':')}/${len}`;
  }
  return addPath ? { prefix: text, pathId: rng.pick([0, 1, 2, rng.next()]) } : { prefix: text };
}

function ipv4(rng: Rng): string {
  return `${rng.range(1, 223)}.${rng.int(256)}.${rng.int(256)}.${rng.range(1, 254)}`;
}

function ipv6(rng: Rng): string {
  return rng.chance(0.3) ? `fe80::${rng.int(65536).toString(16)}` : `2001:db8:${rng.int(65536).toString(16)}::${rng.range(1, 65535).toString(16)}`;
}

function asn(rng: Rng, asn4: boolean): number {
  return asn4 && rng.chance(0.4) ? rng.range(65536, 4294967294) : rng.range(1, 65535);
}

/** A synthetic, well-formed UPDATE built with the codec's encoder. */
export function syntheticSeed(rng: Rng): Seed {
  const ctx: RefContext = { asn4: rng.chance(0.8), ebgp: rng.chance(0.6), addPath4: rng.chance(0.25), addPath6: rng.chance(0.25) };
  const T = 0x40;
  const O = 0x80;
  const attrs: PathAttribute[] = [];
  const v6 = rng.chance(0.35);
  const withdrawOnly = rng.chance(0.12);
  const nlri: Prefix[] = [];
  const withdrawn: Prefix[] = [];
  for (let i = rng.int(3); i > 0; i--) withdrawn.push(randomPrefix(rng, 1, ctx.addPath4));
  if (!withdrawOnly) {
    attrs.push({ type: 1, flags: T, origin: rng.int(3) } as PathAttribute);
    const segs = [];
    for (let i = rng.range(0, 3); i > 0; i--) {
      const t = rng.chance(0.8) ? 2 : rng.pick([1, 3, 4]);
      const asns: number[] = [];
      for (let j = rng.range(1, 5); j > 0; j--) asns.push(asn(rng, ctx.asn4));
      segs.push({ type: t, asns });
    }
    attrs.push({ type: 2, flags: T, segments: segs } as PathAttribute);
    if (!v6 || rng.chance(0.3)) attrs.push({ type: 3, flags: T, nextHop: ipv4(rng) } as PathAttribute);
    if (rng.chance(0.4)) attrs.push({ type: 4, flags: O, med: rng.next() } as PathAttribute);
    if (rng.chance(ctx.ebgp ? 0.15 : 0.8)) attrs.push({ type: 5, flags: T, localPref: rng.pick([100, 200, rng.next()]) } as PathAttribute);
    if (rng.chance(0.1)) attrs.push({ type: 6, flags: T } as PathAttribute);
    if (rng.chance(0.2)) attrs.push({ type: 7, flags: O | T, asn: asn(rng, ctx.asn4), address: ipv4(rng) } as PathAttribute);
    if (rng.chance(0.4)) attrs.push({ type: 8, flags: O | T, communities: Array.from({ length: rng.range(1, 4) }, () => rng.next()) } as PathAttribute);
    if (rng.chance(0.15)) attrs.push({ type: 9, flags: O, originatorId: ipv4(rng) } as PathAttribute);
    if (rng.chance(0.15)) attrs.push({ type: 10, flags: O, clusterList: [ipv4(rng), ipv4(rng)].slice(0, rng.range(1, 2)) } as PathAttribute);
    if (rng.chance(0.2)) attrs.push({ type: 16, flags: O | T, extendedCommunities: [rng.bytes(8)] } as PathAttribute);
    if (!ctx.asn4 && rng.chance(0.4)) {
      attrs.push({ type: 17, flags: O | T, segments: [{ type: 2, asns: [rng.range(65536, 4294967294), asn(rng, false)] }] } as PathAttribute);
    }
    if (!ctx.asn4 && rng.chance(0.2)) attrs.push({ type: 18, flags: O | T, asn: rng.range(65536, 4294967294), address: ipv4(rng) } as PathAttribute);
    if (rng.chance(0.2)) attrs.push({ type: 32, flags: O | T, largeCommunities: [[rng.next(), rng.next(), rng.next()]] } as PathAttribute);
    if (rng.chance(0.1)) attrs.push({ type: 35, flags: O | T, otc: rng.next() } as PathAttribute);
    if (rng.chance(0.1)) attrs.push({ type: rng.pick([22, 26, 40, 99, 128, 200]), flags: O | (rng.chance(0.5) ? T : 0), data: rng.bytes(rng.int(6)) } as PathAttribute);
    if (v6 || rng.chance(0.1)) {
      const afi = v6 ? 2 : 1;
      const nextHops = afi === 2 ? (rng.chance(0.3) ? [ipv6(rng), `fe80::${rng.range(1, 9)}`] : [ipv6(rng)]) : [ipv4(rng)];
      const list = Array.from({ length: rng.range(1, 4) }, () => randomPrefix(rng, afi, afi === 1 ? ctx.addPath4 : ctx.addPath6));
      attrs.push({ type: 14, flags: O, afi, safi: 1, nextHops, nlri: list } as PathAttribute);
    }
    if (!v6 || rng.chance(0.2)) for (let i = rng.range(1, 4); i > 0; i--) nlri.push(randomPrefix(rng, 1, ctx.addPath4));
  }
  if (withdrawOnly || rng.chance(0.1)) {
    const afi = rng.chance(0.7) ? 2 : 1;
    attrs.push({ type: 15, flags: O, afi, safi: 1, withdrawn: Array.from({ length: rng.int(3) }, () => randomPrefix(rng, afi, afi === 1 ? ctx.addPath4 : ctx.addPath6)) } as PathAttribute);
  }
  // RFC 7606 §5.1 puts MP attributes first; senders in the wild put them anywhere.
  if (rng.chance(0.5)) attrs.sort((a, b) => (a.type === 14 || a.type === 15 ? -1 : 0) - (b.type === 14 || b.type === 15 ? -1 : 0));
  const msg = encodeUpdate({ withdrawn, attributes: attrs, nlri }, { asn4: ctx.asn4, addPath: { ipv4: ctx.addPath4, ipv6: ctx.addPath6 } });
  return { msg, ctx, origin: 'synthetic' };
}

// ---------------------------------------------------------------------------------------------
// Structure (lenient: only when the length fields are consistent)

export interface RawAttr {
  flags: number;
  type: number;
  value: Uint8Array;
}

export interface Parts {
  withdrawn: Uint8Array;
  attrs: RawAttr[];
  nlri: Uint8Array;
}

export function split(msg: Uint8Array): Parts | null {
  if (msg.length < 23) return null;
  const wLen = (msg[19] << 8) | msg[20];
  if (21 + wLen + 2 > msg.length) return null;
  const aLen = (msg[21 + wLen] << 8) | msg[22 + wLen];
  const aStart = 23 + wLen;
  const aEnd = aStart + aLen;
  if (aEnd > msg.length) return null;
  const attrs: RawAttr[] = [];
  let p = aStart;
  while (p < aEnd) {
    if (p + 3 > aEnd) return null;
    const flags = msg[p];
    const ext = (flags & 0x10) !== 0;
    if (ext && p + 4 > aEnd) return null;
    const len = ext ? (msg[p + 2] << 8) | msg[p + 3] : msg[p + 2];
    const v = p + (ext ? 4 : 3);
    if (v + len > aEnd) return null;
    attrs.push({ flags, type: msg[p + 1], value: msg.slice(v, v + len) });
    p = v + len;
  }
  return { withdrawn: msg.slice(21, 21 + wLen), attrs, nlri: msg.slice(aEnd) };
}

export function encodeAttr(a: RawAttr): Uint8Array {
  const ext = (a.flags & 0x10) !== 0 || a.value.length > 255;
  const flags = ext ? a.flags | 0x10 : a.flags;
  const out = new Uint8Array((ext ? 4 : 3) + a.value.length);
  out[0] = flags;
  out[1] = a.type;
  if (ext) {
    out[2] = a.value.length >> 8;
    out[3] = a.value.length & 0xff;
  } else out[2] = a.value.length;
  out.set(a.value, ext ? 4 : 3);
  return out;
}

/** Header + body from parts; the header length is the real length. */
export function join(p: Parts): Uint8Array {
  const attrs = p.attrs.map(encodeAttr);
  const aLen = attrs.reduce((s, a) => s + a.length, 0);
  const total = 19 + 2 + p.withdrawn.length + 2 + aLen + p.nlri.length;
  const out = new Uint8Array(total);
  out.fill(0xff, 0, 16);
  out[16] = total >> 8;
  out[17] = total & 0xff;
  out[18] = 2;
  out[19] = p.withdrawn.length >> 8;
  out[20] = p.withdrawn.length & 0xff;
  out.set(p.withdrawn, 21);
  let q = 21 + p.withdrawn.length;
  out[q] = aLen >> 8;
  out[q + 1] = aLen & 0xff;
  q += 2;
  for (const a of attrs) {
    out.set(a, q);
    q += a.length;
  }
  out.set(p.nlri, q);
  return out;
}

/** Sets the header's length field to the real length (a framer only passes such messages). */
export function fixHeader(msg: Uint8Array): Uint8Array {
  msg[16] = msg.length >> 8;
  msg[17] = msg.length & 0xff;
  return msg;
}

// ---------------------------------------------------------------------------------------------
// Mutations

/** Attributes worth inserting: malformed, misplaced or unknown ones. */
function interestingAttr(rng: Rng, ctx: RefContext): RawAttr {
  const O = 0x80;
  const T = 0x40;
  const pick = rng.int(22);
  switch (pick) {
    case 0: return { flags: O | T, type: 7, value: rng.bytes(3) }; // AGGREGATOR of 3 octets
    case 1: return { flags: O | T, type: 7, value: rng.bytes(ctx.asn4 ? 6 : 8) }; // the other AS size
    case 2: return { flags: T, type: 5, value: rng.bytes(4) }; // LOCAL_PREF (on eBGP: discard)
    case 3: return { flags: T | (rng.chance(0.3) ? 0x20 : 0), type: rng.pick([0, 11, 12, 13, 19, 20, 21, 27, 40, 99, 200, 255]), value: rng.bytes(rng.int(5)) }; // unknown well-known
    case 4: return { flags: O | (rng.chance(0.5) ? T : 0), type: rng.pick([0, 22, 23, 26, 29, 40, 128, 255]), value: rng.bytes(rng.int(6)) }; // unknown optional
    case 5: return { flags: rng.pick([T, O, O | T]), type: rng.pick([1, 2, 3, 4, 5, 8, 9, 10, 16, 17, 18, 32, 35]), value: new Uint8Array(0) }; // zero length
    case 6: return { flags: O | T, type: 17, value: Uint8Array.of(2, 1, 0, 1, 0, 1) }; // AS4_PATH
    case 7: return { flags: O | T, type: 17, value: rng.bytes(rng.pick([5, 6, 7, 10])) }; // AS4_PATH, likely malformed
    case 8: return { flags: O | T, type: 18, value: rng.bytes(rng.pick([6, 8, 8])) }; // AS4_AGGREGATOR
    case 9: return { flags: O | T, type: 35, value: rng.bytes(rng.pick([3, 4, 5])) }; // OTC
    case 10: return { flags: O | T, type: 32, value: rng.bytes(rng.pick([11, 12, 13, 24])) }; // LARGE_COMMUNITY
    case 11: return { flags: O, type: 9, value: rng.bytes(rng.pick([3, 4])) }; // ORIGINATOR_ID
    case 12: return { flags: O, type: 10, value: rng.bytes(rng.pick([4, 6, 8])) }; // CLUSTER_LIST
    case 13: return { flags: T, type: 6, value: rng.bytes(rng.int(3)) }; // ATOMIC_AGGREGATE
    case 14: return { flags: O | T, type: 8, value: rng.bytes(rng.pick([3, 4, 8])) }; // COMMUNITIES
    case 15: return { flags: O, type: 4, value: rng.bytes(rng.pick([3, 4])) }; // MED
    case 16: return { flags: O | T, type: 16, value: rng.bytes(rng.pick([7, 8, 16])) }; // EXT COMMUNITIES
    case 17: return { flags: O, type: 15, value: Uint8Array.of(0, rng.pick([1, 2]), 1) }; // empty MP_UNREACH
    case 18: { // MP_REACH IPv6 with one prefix
      const v = new Uint8Array(5 + 16 + 1 + 4);
      v.set([0, 2, 1, 16], 0);
      v.set(rng.bytes(16), 4);
      v[20] = 0;
      v[21] = 32;
      v.set([0x20, 0x01, 0x0d, 0xb8], 22);
      return { flags: O, type: 14, value: v };
    }
    case 19: return { flags: O, type: 14, value: Uint8Array.of(0, 1, 1, 4, 10, 0, 0, 1, 0, 24, 192, 0, 2) }; // MP_REACH IPv4
    case 20: return { flags: T, type: 3, value: rng.bytes(rng.pick([3, 4, 5])) }; // NEXT_HOP
    default: return { flags: T, type: 1, value: Uint8Array.of(rng.int(4)) }; // ORIGIN
  }
}

/** Where the first prefix length octet of a prefix field sits, for the "too long" mutation. */
function prefixLengthAt(parts: Parts, ctx: RefContext, rng: Rng): { set: (len: number) => void; max: number } | null {
  const options: Array<{ set: (len: number) => void; max: number }> = [];
  const ap4 = ctx.addPath4 ? 4 : 0;
  if (parts.nlri.length > ap4) options.push({ set: (l) => (parts.nlri[ap4] = l), max: 32 });
  if (parts.withdrawn.length > ap4) options.push({ set: (l) => (parts.withdrawn[ap4] = l), max: 32 });
  for (const a of parts.attrs) {
    if (a.type === 14 && a.value.length >= 5) {
      const afi = (a.value[0] << 8) | a.value[1];
      const at = 5 + a.value[3] + (afi === 1 ? ap4 : ctx.addPath6 ? 4 : 0);
      if (at < a.value.length) options.push({ set: (l) => (a.value[at] = l), max: afi === 1 ? 32 : 128 });
    }
    if (a.type === 15 && a.value.length >= 3) {
      const afi = (a.value[0] << 8) | a.value[1];
      const at = 3 + (afi === 1 ? ap4 : ctx.addPath6 ? 4 : 0);
      if (at < a.value.length) options.push({ set: (l) => (a.value[at] = l), max: afi === 1 ? 32 : 128 });
    }
  }
  return options.length ? rng.pick(options) : null;
}

export const MUTATIONS = [
  'flipByte',
  'setByte',
  'withdrawnLen',
  'totalAttrLen',
  'attrLen',
  'extBit',
  'extReencode',
  'truncate',
  'duplicate',
  'reorder',
  'drop',
  'badFlags',
  'prefixTooLong',
  'insert',
  'valueByte',
  'addPrefix',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

/** One mutation; returns the new message (header length kept equal to the real length). */
export function mutateOnce(msg: Uint8Array, ctx: RefContext, rng: Rng, kind: Mutation): Uint8Array {
  const m = msg.slice();
  const body = () => 19 + rng.int(Math.max(1, m.length - 19));
  switch (kind) {
    case 'flipByte': {
      if (m.length > 19) m[body()] ^= 1 << rng.int(8);
      return m;
    }
    case 'setByte': {
      if (m.length > 19) m[body()] = rng.pick([0, 1, 0x7f, 0x80, 0xff, rng.int(256)]);
      return m;
    }
    case 'withdrawnLen':
    case 'totalAttrLen': {
      const at = kind === 'withdrawnLen' ? 19 : 21 + ((m[19] << 8) | m[20]);
      if (at + 2 > m.length) return m;
      const cur = (m[at] << 8) | m[at + 1];
      const next = rng.pick([0, cur + 1, cur - 1, cur + rng.range(2, 8), cur - rng.range(2, 8), rng.int(65536), m.length]) & 0xffff;
      m[at] = next >> 8;
      m[at + 1] = next & 0xff;
      return m;
    }
    case 'truncate': {
      if (m.length <= 23) return m;
      return fixHeader(m.slice(0, rng.range(23, m.length - 1)));
    }
  }
  const parts = split(m);
  if (!parts) return mutateOnce(m, ctx, rng, rng.pick(['flipByte', 'truncate', 'withdrawnLen', 'totalAttrLen'] as const));
  const A = parts.attrs;
  switch (kind) {
    case 'attrLen':
    case 'extBit': {
      if (!A.length) return join(parts);
      // Edit the raw bytes of one attribute header inside the rebuilt message.
      const i = rng.int(A.length);
      const out = join(parts);
      let q = 23 + parts.withdrawn.length;
      for (let j = 0; j < i; j++) q += encodeAttr(A[j]).length;
      if (kind === 'extBit') out[q] ^= 0x10;
      else {
        const ext = (out[q] & 0x10) !== 0;
        const cur = ext ? (out[q + 2] << 8) | out[q + 3] : out[q + 2];
        const next = rng.pick([0, cur + 1, cur - 1, cur + rng.range(2, 6), cur - rng.range(2, 6), rng.int(ext ? 65536 : 256)]);
        if (ext) {
          out[q + 2] = (next >> 8) & 0xff;
          out[q + 3] = next & 0xff;
        } else out[q + 2] = next & 0xff;
      }
      return out;
    }
    case 'extReencode': {
      if (!A.length) return join(parts);
      const a = rng.pick(A);
      a.flags ^= 0x10; // join() writes the length in the width the flag asks for
      return join(parts);
    }
    case 'duplicate': {
      if (!A.length) break;
      const a = rng.pick(A);
      const copy = { flags: a.flags, type: a.type, value: rng.chance(0.5) ? a.value.slice() : rng.bytes(a.value.length) };
      A.splice(rng.int(A.length + 1), 0, copy);
      break;
    }
    case 'reorder':
      for (let i = A.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [A[i], A[j]] = [A[j], A[i]];
      }
      break;
    case 'drop':
      if (A.length) A.splice(rng.int(A.length), 1);
      break;
    case 'badFlags': {
      if (!A.length) break;
      const a = rng.pick(A);
      a.flags = rng.chance(0.7) ? a.flags ^ rng.pick([0x80, 0x40, 0x20, 0xc0, 0x0f]) : rng.int(256) & ~0x10;
      break;
    }
    case 'prefixTooLong': {
      const at = prefixLengthAt(parts, ctx, rng);
      if (at) at.set(rng.chance(0.5) ? at.max + 1 : rng.range(at.max + 1, 255));
      break;
    }
    case 'insert':
      A.splice(rng.int(A.length + 1), 0, interestingAttr(rng, ctx));
      break;
    case 'valueByte': {
      const withValue = A.filter((a) => a.value.length > 0);
      if (!withValue.length) break;
      const a = rng.pick(withValue);
      a.value[rng.int(a.value.length)] = rng.chance(0.5) ? rng.int(256) : a.value[0] ^ (1 << rng.int(8));
      break;
    }
    case 'addPrefix': {
      const len = rng.pick([0, 8, 24, 32, rng.int(33)]);
      const pfx = [...(ctx.addPath4 ? rng.bytes(4) : []), len, ...rng.bytes((len + 7) >> 3)];
      if (rng.chance(0.5)) parts.nlri = Uint8Array.from([...parts.nlri, ...pfx]);
      else parts.withdrawn = Uint8Array.from([...parts.withdrawn, ...pfx]);
      break;
    }
  }
  return join(parts);
}

/** A test case: a seed, a context (usually the seed's), and 0-4 mutations. */
export function makeCase(seeds: Seed[], rng: Rng): { msg: Uint8Array; ctx: RefContext; origin: string; mutations: Mutation[] } {
  const seed = rng.chance(0.25) || seeds.length === 0 ? syntheticSeed(rng) : rng.pick(seeds);
  const ctx = { ...seed.ctx };
  ctx.ebgp = rng.chance(0.7);
  if (rng.chance(0.1)) ctx.asn4 = !ctx.asn4;
  if (rng.chance(0.05)) ctx.addPath4 = !ctx.addPath4;
  if (rng.chance(0.05)) ctx.addPath6 = !ctx.addPath6;
  let msg = seed.msg;
  const mutations: Mutation[] = [];
  const n = rng.pick([0, 1, 1, 1, 2, 2, 3, 4]);
  for (let i = 0; i < n; i++) {
    const k = rng.pick(MUTATIONS);
    mutations.push(k);
    msg = mutateOnce(msg, ctx, rng, k);
    if (msg.length > 4096) msg = fixHeader(msg.slice(0, 4096));
  }
  return { msg, ctx, origin: seed.origin, mutations };
}
