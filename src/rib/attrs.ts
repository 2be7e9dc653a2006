// Path attribute sets interned once, keyed by their bytes: one lock-free open-addressing index
// over a SharedArrayBuffer (doubled by the pipeline between batches, memory.ts growAttrIndex),
// an append-only arena of the bytes, and the decision fields decoded
// once beside them. Validation (RFC 7606, by the attribute table) runs only for a set seen for
// the first time.

import { AsPathSegmentType, AttrType, WellKnownCommunity } from '../packet/index.js';
import { OnError } from '../packet/attr/table.js';
import { BlockVerdict, checkAttributes, withoutDropped, type AttrContext } from '../packet/attr/validate.js';
import { AttrWalker, u32 } from '../packet/attr/walk.js';
import { fmix32 } from '../util/hash.js';
import {
  F_AS_LOOP,
  F_ATOMIC_AGGREGATE,
  F_HAS_LOCAL_PREF,
  F_HAS_MED,
  F_HAS_ORIGINATOR,
  F_HAS_OTC,
  F_NO_ADVERTISE,
  F_NO_EXPORT,
  F_NO_PEER,
  IPV4,
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
/** The block carries MP_REACH_NLRI / MP_UNREACH_NLRI: the full codec takes the message. */
export const NEEDS_CODEC = -2;
/** A session-level error: `verdict` holds the NOTIFICATION's subcode, data and reason. */
export const SESSION_RESET = -3;

/**
 * The RFC 7606 verdict of the last block internAttributes() checked; `checked` says whether
 * the last call checked one (a block already interned is not checked again).
 */
export const verdict = new BlockVerdict();
export const lastIntern = { checked: false };

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

/** Scratch for the decision fields of a block being interned. */
const scratch = new Uint32Array(META_WORDS);
const walker = new AttrWalker();

/**
 * The decision fields of a checked, stored-form attribute block (4-octet AS numbers; from an
 * external peer without LOCAL_PREF / ORIGINATOR_ID / CLUSTER_LIST) into `scratch`.
 */
function decodeDecisionFields(b: Uint8Array, start: number, end: number, localAs: number, routerId: number): void {
  let ownAs = 0;
  scratch.fill(0);
  scratch[M_LOCAL_PREF] = 100;
  let flagsOut = 0;
  const w = walker.reset(b, start, end);
  while (w.next()) {
    const v = w.value;
    const len = w.length;
    switch (w.type) {
      case AttrType.ORIGIN:
        scratch[M_ORIGIN] = b[v];
        break;
      case AttrType.AS_PATH: {
        // RFC 4271 §9.1.2.2 (a): an AS_SET counts as one, confederation segments as none.
        let count = 0;
        let first = 0;
        for (let q = v; q < v + len; q += 2 + b[q + 1] * 4) {
          const segType = b[q];
          const n = b[q + 1];
          if (segType === AsPathSegmentType.AS_SEQUENCE) {
            if (first === 0 && count === 0) first = u32(b, q + 2);
            count += n;
          } else if (segType === AsPathSegmentType.AS_SET) count += 1;
          for (let i = 0; i < n; i++) if (u32(b, q + 2 + i * 4) === localAs) ownAs++;
        }
        scratch[M_AS_PATH_LEN] = count;
        scratch[M_NEIGHBOR_AS] = first;
        break;
      }
      case AttrType.NEXT_HOP:
        scratch[M_NEXT_HOP] = u32(b, v);
        break;
      case AttrType.MULTI_EXIT_DISC:
        scratch[M_MED] = u32(b, v);
        flagsOut |= F_HAS_MED;
        break;
      case AttrType.LOCAL_PREF:
        scratch[M_LOCAL_PREF] = u32(b, v);
        flagsOut |= F_HAS_LOCAL_PREF;
        break;
      case AttrType.ATOMIC_AGGREGATE:
        flagsOut |= F_ATOMIC_AGGREGATE;
        break;
      case AttrType.COMMUNITIES:
        for (let q = v; q < v + len; q += 4) {
          const c = u32(b, q);
          if (c === WellKnownCommunity.NO_EXPORT) flagsOut |= F_NO_EXPORT;
          else if (c === WellKnownCommunity.NO_ADVERTISE) flagsOut |= F_NO_ADVERTISE;
          else if (c === WellKnownCommunity.NO_PEER) flagsOut |= F_NO_PEER;
        }
        break;
      case AttrType.ORIGINATOR_ID:
        scratch[M_ORIGINATOR_ID] = u32(b, v);
        flagsOut |= F_HAS_ORIGINATOR;
        if (routerId !== 0 && u32(b, v) === routerId) flagsOut |= F_AS_LOOP; // our own route, reflected back
        break;
      case AttrType.OTC:
        flagsOut |= F_HAS_OTC;
        break;
      case AttrType.CLUSTER_LIST:
        scratch[M_CLUSTER_LEN] = len / 4;
        for (let q = v; q < v + len; q += 4) if (routerId !== 0 && u32(b, q) === routerId) flagsOut |= F_AS_LOOP;
        break;
    }
  }
  scratch[M_FLAGS] = flagsOut | (Math.min(ownAs, 255) << OWN_AS_SHIFT);
}

function sameBytes(arena: Uint8Array, off: number, len: number, b: Uint8Array, start: number, end: number): boolean {
  if (len !== end - start) return false;
  for (let i = 0; i < len; i++) if (arena[off + i] !== b[start + i]) return false;
  return true;
}

/**
 * Interns the attribute block b[start, end) of an address family and returns its attribute id
 * (> 0), or TREAT_AS_WITHDRAW / NEEDS_CODEC / SESSION_RESET.
 *
 * A block as received (`trusted` false: 4-octet AS numbers, IPv4 NLRI in the message; `ctx`
 * the receiving session) is
 * checked against RFC 7606 the first time its bytes are seen; attributes to discard are
 * dropped and the rest interned as a trusted block, so a stored set holds only what may be
 * used and passed on. A trusted block (written by the codec or by our own policy) is stored
 * as it is. Lock-free: a new set is written completely before its id is published by
 * compare-and-swap.
 */
export function internAttributes(v: RibViews, b: Uint8Array, start: number, end: number, ctx: AttrContext, fam = IPV4, trusted = false): number {
  const ebgp = !!ctx.ebgp;
  if (!trusted) lastIntern.checked = false;
  const seed = (ebgp ? 0x5bd1e995 : 0x27d4eb2f) ^ fam ^ (trusted ? 0x100 : 0);
  const hash = hashBytes(b, start, end, seed);
  const index = v.attrIndex;
  const mask = index.length - 1;
  let meta = v.attrMeta;
  let i = hash & mask;
  let fresh = 0;
  for (;;) {
    const id = Atomics.load(index, i);
    if (id === 0) {
      if (fresh === 0) {
        if (!trusted) {
          const r = checkAttributes(b, start, end, ctx, fam === IPV4, verdict);
          lastIntern.checked = true;
          if (r.verdict === OnError.Reset) return SESSION_RESET;
          if (r.mpReach >= 0 || r.mpUnreach >= 0) return NEEDS_CODEC;
          if (r.verdict === OnError.TreatAsWithdraw) return TREAT_AS_WITHDRAW;
          if (r.drop.length) {
            // Stored without what RFC 7606 discards; such a block is checked again each time
            // it arrives (rare: a clean block is found by its own bytes next time).
            const clean = withoutDropped(b, start, end, r.drop);
            return internAttributes(v, clean, 0, clean.length, ctx, fam, true);
          }
        }
        decodeDecisionFields(b, start, end, v.buffers.localAs, v.buffers.routerId);
        fresh = Atomics.add(v.attrCounters, 0, 1);
        // The pipeline doubles the index at half full, between batches; this far it never gets.
        if (fresh > (mask + 1) * 0.9) throw new Error(`attribute index full: ${mask + 1} slots`);
        const len = end - start;
        const off = Atomics.add(v.attrCounters, 1, len);
        if ((fresh + 1) * META_WORDS > meta.length || off + len > v.attrArena.length) {
          if (off < 0 || !v.growAttributes(fresh, off + len)) throw new Error(`attribute table full: ${fresh} sets, ${off} octets ([rib] attribute-sets)`);
          meta = v.attrMeta;
        }
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
    // A set another worker added after our last look may lie past our views.
    if (m + META_WORDS > meta.length || meta[m + M_OFFSET] + meta[m + M_LENGTH] > v.attrArena.length) {
      v.attributesWith(id);
      meta = v.attrMeta;
    }
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
  v.attributesWith(id);
  const meta = v.attrMeta;
  return v.attrArena.subarray(meta[m + M_OFFSET], meta[m + M_OFFSET] + meta[m + M_LENGTH]);
}
