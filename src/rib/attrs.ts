// Path attribute sets interned once, keyed by their bytes: one lock-free open-addressing index
// over a SharedArrayBuffer, an append-only arena of the bytes, and the decision fields decoded
// once beside them. Validation (RFC 7606) runs only for a set seen for the first time.

import { ErrorCode, UpdateSubcode, WellKnownCommunity } from '../packet/index.js';
import { fmix32 } from '../util/hash.js';
import {
  F_AS_LOOP,
  F_ATOMIC_AGGREGATE,
  F_HAS_LOCAL_PREF,
  F_HAS_MED,
  F_HAS_ORIGINATOR,
  F_NO_ADVERTISE,
  F_NO_EXPORT,
  F_NO_PEER,
  IPV4,
  IPV6,
  M_AS_PATH_LEN,
  M_CLUSTER_LEN,
  M_FLAGS,
  M_HASH,
  M_LENGTH,
  M_LOCAL_PREF,
  M_MED,
  M_NEIGHBOR_AS,
  M_NEXT_HOP,
  M_OFFSET,
  M_ORIGIN,
  M_ORIGINATOR_ID,
  META_WORDS,
  OWN_AS_SHIFT,
  type RibViews,
} from './memory.js';

/** What interning an attribute block can answer besides an attribute id. */
export const TREAT_AS_WITHDRAW = -1;
/** The block needs the full codec (2-octet AS peer, repeated attributes...). */
export const NEEDS_CODEC = -2;
/** A session-level error: see `lastError`. */
export const SESSION_RESET = -3;

export const lastError = { code: 0, subcode: 0, detail: '' };

function fail(subcode: number, detail: string): number {
  lastError.code = ErrorCode.UpdateMessage;
  lastError.subcode = subcode;
  lastError.detail = detail;
  return SESSION_RESET;
}

/** 32-bit hash of b[start, end) seeded with what changes the meaning of the same bytes. */
export function hashBytes(b: Uint8Array, start: number, end: number, seed: number): number {
  let h = seed ^ (end - start);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    let k = b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = Math.imul(h, 5) + 0xe6546b64;
  }
  let k = 0;
  for (let s = 0; i < end; i++, s += 8) k |= b[i] << s;
  h ^= Math.imul(((Math.imul(k, 0xcc9e2d51) << 15) | (Math.imul(k, 0xcc9e2d51) >>> 17)), 0x1b873593);
  return fmix32(h);
}

const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/** Scratch for the decision fields of a block being validated. */
const scratch = new Uint32Array(META_WORDS);

/**
 * Validates a 4-octet-AS attribute block (RFC 7606) and decodes its decision fields into
 * `scratch`. Returns 0, TREAT_AS_WITHDRAW, NEEDS_CODEC or SESSION_RESET.
 */
function decodeDecisionFields(b: Uint8Array, start: number, end: number, localAs: number, routerId: number, ebgp: boolean, hasNlri: boolean, fam: number, policyLocalPref: boolean): number {
  let ownAs = 0;
  scratch.fill(0);
  scratch[M_LOCAL_PREF] = 100;
  let flagsOut = 0;
  let seen = 0; // bit per attribute type < 32
  let taw = false;
  let p = start;
  while (p < end) {
    if (p + 3 > end) return TREAT_AS_WITHDRAW;
    const flags = b[p];
    const type = b[p + 1];
    const ext = (flags & 0x10) !== 0;
    if (ext && p + 4 > end) return TREAT_AS_WITHDRAW;
    const len = ext ? (b[p + 2] << 8) | b[p + 3] : b[p + 2];
    const v = p + (ext ? 4 : 3);
    p = v + len;
    if (p > end) return TREAT_AS_WITHDRAW;
    if (type < 32) {
      if (seen & (1 << type)) return NEEDS_CODEC; // repeated attribute: the codec keeps the first
      seen |= 1 << type;
    }
    const ot = flags & 0xc0;
    switch (type) {
      case 1: // ORIGIN
        if (ot !== 0x40 || len !== 1 || b[v] > 2) taw = true;
        else scratch[M_ORIGIN] = b[v];
        break;
      case 2: { // AS_PATH, 4-octet ASes
        if (ot !== 0x40) {
          taw = true;
          break;
        }
        let q = v;
        let count = 0;
        let first = 0;
        while (q < v + len) {
          if (q + 2 > v + len) return TREAT_AS_WITHDRAW;
          const segType = b[q];
          const n = b[q + 1];
          if (segType < 1 || segType > 4 || n === 0 || q + 2 + n * 4 > v + len) return TREAT_AS_WITHDRAW;
          if (segType === 2) {
            if (first === 0 && count === 0) first = u32(b, q + 2);
            count += n;
          } else if (segType === 1) count += 1;
          for (let i = 0; i < n; i++) if (u32(b, q + 2 + i * 4) === localAs) ownAs++;
          q += 2 + n * 4;
        }
        scratch[M_AS_PATH_LEN] = count;
        scratch[M_NEIGHBOR_AS] = first;
        break;
      }
      case 3: // NEXT_HOP
        if (ot !== 0x40 || len !== 4) taw = true;
        else scratch[M_NEXT_HOP] = u32(b, v);
        break;
      case 4: // MULTI_EXIT_DISC
        if (ot !== 0x80 || len !== 4) taw = true;
        else {
          scratch[M_MED] = u32(b, v);
          flagsOut |= F_HAS_MED;
        }
        break;
      case 5: // LOCAL_PREF: from an external peer it is discarded (RFC 7606 §7.5)
        if (ebgp && !policyLocalPref) break;
        if (ot !== 0x40 || len !== 4) taw = true;
        else {
          scratch[M_LOCAL_PREF] = u32(b, v);
          flagsOut |= F_HAS_LOCAL_PREF;
        }
        break;
      case 6:
        if (len === 0) flagsOut |= F_ATOMIC_AGGREGATE;
        break;
      case 8: // COMMUNITIES
        if (len === 0 || len % 4 !== 0 || ot !== 0xc0) taw = true;
        else {
          for (let q = v; q < v + len; q += 4) {
            const c = u32(b, q);
            if (c === WellKnownCommunity.NO_EXPORT) flagsOut |= F_NO_EXPORT;
            else if (c === WellKnownCommunity.NO_ADVERTISE) flagsOut |= F_NO_ADVERTISE;
            else if (c === WellKnownCommunity.NO_PEER) flagsOut |= F_NO_PEER;
          }
        }
        break;
      case 9: // ORIGINATOR_ID
        if (ebgp) break;
        if (len !== 4) taw = true;
        else {
          scratch[M_ORIGINATOR_ID] = u32(b, v);
          flagsOut |= F_HAS_ORIGINATOR;
          if (routerId !== 0 && u32(b, v) === routerId) flagsOut |= F_AS_LOOP; // our own route, reflected back
        }
        break;
      case 10: // CLUSTER_LIST
        if (ebgp) break;
        if (len === 0 || len % 4 !== 0) taw = true;
        else {
          scratch[M_CLUSTER_LEN] = len / 4;
          for (let q = v; q < v + len; q += 4) if (routerId !== 0 && u32(b, q) === routerId) flagsOut |= F_AS_LOOP;
        }
        break;
      case 16:
        if (len === 0 || len % 8 !== 0) taw = true;
        break;
      case 32:
        if (len === 0 || len % 12 !== 0) taw = true;
        break;
      case 35:
        if (len !== 4) taw = true;
        break;
      case 7:
      case 17:
      case 18:
        break; // AGGREGATOR and the AS4_ attributes do not take part in the decision
      case 14:
        // A stored IPv6 path keeps its next hop as an MP_REACH_NLRI without NLRI; one that
        // still carries NLRI came straight off the wire and needs the codec.
        if (fam !== IPV6) return NEEDS_CODEC;
        break;
      case 15:
        return NEEDS_CODEC;
      default:
        if ((flags & 0x80) === 0) return fail(UpdateSubcode.UnrecognizedWellKnownAttribute, `well-known attribute ${type}`);
    }
  }
  // RFC 7606 §3(d): missing well-known mandatory attributes.
  const nextHop = fam === IPV6 ? 14 : 3;
  if (hasNlri && (!(seen & (1 << 1)) || !(seen & (1 << 2)) || !(seen & (1 << nextHop)))) taw = true;
  if (hasNlri && !ebgp && !policyLocalPref && !(seen & (1 << 5))) taw = true;
  if (taw) return TREAT_AS_WITHDRAW;
  scratch[M_FLAGS] = flagsOut | (Math.min(ownAs, 255) << OWN_AS_SHIFT);
  return 0;
}

function sameBytes(arena: Uint8Array, off: number, len: number, b: Uint8Array, start: number, end: number): boolean {
  if (len !== end - start) return false;
  for (let i = 0; i < len; i++) if (arena[off + i] !== b[start + i]) return false;
  return true;
}

/**
 * Interns the attribute block b[start, end) of an address family as received from a peer of
 * the given kind (`policyLocalPref`: its LOCAL_PREF was set by our import policy) and returns
 * its attribute id (> 0), or TREAT_AS_WITHDRAW / NEEDS_CODEC / SESSION_RESET.
 * Lock-free: a new set is written completely before its id is published by compare-and-swap.
 */
export function internAttributes(v: RibViews, b: Uint8Array, start: number, end: number, ebgp: boolean, hasNlri: boolean, fam = IPV4, policyLocalPref = false): number {
  const seed = (ebgp ? 0x5bd1e995 : 0x27d4eb2f) ^ fam ^ (policyLocalPref ? 0x100 : 0);
  const hash = hashBytes(b, start, end, seed);
  const index = v.attrIndex;
  const mask = index.length - 1;
  const meta = v.attrMeta;
  let i = hash & mask;
  let fresh = 0;
  for (;;) {
    const id = Atomics.load(index, i);
    if (id === 0) {
      if (fresh === 0) {
        const r = decodeDecisionFields(b, start, end, v.buffers.localAs, v.buffers.routerId, ebgp, hasNlri, fam, policyLocalPref);
        if (r !== 0) return r;
        fresh = Atomics.add(v.attrCounters, 0, 1);
        if ((fresh + 1) * META_WORDS > meta.length) throw new Error('attribute table full: raise rib sizing attributeSets');
        const len = end - start;
        const off = Atomics.add(v.attrCounters, 1, len);
        if (off + len > v.attrArena.length) throw new Error('attribute arena full: raise rib sizing attributeBytes');
        v.attrArena.set(b.subarray(start, end), off);
        scratch[M_HASH] = hash;
        scratch[M_OFFSET] = off;
        scratch[M_LENGTH] = len;
        meta.set(scratch, fresh * META_WORDS);
      }
      if (Atomics.compareExchange(index, i, 0, fresh) === 0) return fresh;
      continue; // another worker filled this slot first: look at what it wrote
    }
    const m = id * META_WORDS;
    if (meta[m + M_HASH] === hash && sameBytes(v.attrArena, meta[m + M_OFFSET], meta[m + M_LENGTH], b, start, end)) {
      // Someone interned the same set; any id we reserved stays unused (rare, bounded).
      return id;
    }
    i = (i + 1) & mask;
  }
}

/** The bytes of an interned attribute set (a view, no copy). */
export function attributeBytes(v: RibViews, id: number): Uint8Array {
  const m = id * META_WORDS;
  return v.attrArena.subarray(v.attrMeta[m + M_OFFSET], v.attrMeta[m + M_OFFSET] + v.attrMeta[m + M_LENGTH]);
}
