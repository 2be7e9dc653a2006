// Import and export policies: an ordered list of rules, the first whose conditions all match
// decides; a default decides when none does. Conditions and actions work on the raw attribute
// block the RIB stores, so a policy runs in the RIB workers without decoding to objects.

import { parsePrefix, WELL_KNOWN_COMMUNITY_NAMES } from '../packet/index.js';
import { AttrWalker, attrBytes, be32, u32 } from '../packet/attr/walk.js';

export interface PolicyRule {
  /** Prefixes that match: the prefix itself, or (with `le`) any longer one inside it. */
  prefixes?: Array<{ afi: 1 | 2; bits: number[]; length: number; le: number }>;
  communities?: number[];
  largeCommunities?: Array<[number, number, number]>;
  /** Any of these ASes anywhere in AS_PATH. */
  asPathContains?: number[];
  /** The origin AS (last of AS_PATH) is one of these. */
  originAs?: number[];
  action: 'accept' | 'reject';
  setLocalPref?: number;
  setMed?: number;
  addCommunities?: number[];
  /** Export only: our AS this many extra times. */
  prepend?: number;
}

export interface Policy {
  rules: PolicyRule[];
  default: 'accept' | 'reject';
}

/** "65000:100" -> 32-bit community; well-known names too. */
export function parseCommunity(text: string): number | null {
  const named = WELL_KNOWN_COMMUNITY_NAMES[text];
  if (named !== undefined) return named;
  const m = text.match(/^(\d+):(\d+)$/);
  if (!m) return null;
  const hi = Number(m[1]);
  const lo = Number(m[2]);
  if (hi > 0xffff || lo > 0xffff) return null;
  return hi * 65536 + lo;
}

export function parseLargeCommunity(text: string): [number, number, number] | null {
  const m = text.match(/^(\d+):(\d+):(\d+)$/);
  if (!m) return null;
  const v = [Number(m[1]), Number(m[2]), Number(m[3])];
  return v.every((x) => x <= 0xffffffff) ? (v as [number, number, number]) : null;
}

/** "10.0.0.0/8" or "10.0.0.0/8-24" (with longer prefixes up to /24). */
export function parsePrefixMatch(text: string): PolicyRule['prefixes'] extends (infer T)[] | undefined ? T | null : never {
  const m = text.match(/^(.+\/\d+)(?:-(\d+))?$/);
  if (!m) return null;
  try {
    const p = parsePrefix(m[1]);
    const max = p.afi === 1 ? 32 : 128;
    const le = m[2] === undefined ? p.length : Number(m[2]);
    if (le < p.length || le > max) return null;
    const bits: number[] = [];
    for (let w = 0; w < p.bytes.length / 4; w++) bits.push(((p.bytes[w * 4] << 24) | (p.bytes[w * 4 + 1] << 16) | (p.bytes[w * 4 + 2] << 8) | p.bytes[w * 4 + 3]) >>> 0);
    return { afi: p.afi, bits, length: p.length, le };
  } catch {
    return null;
  }
}

// ---- reading a raw attribute block ---------------------------------------------------------

/** Calls fn for each attribute of a stored block (one walk, the codec's). */
function forEachAttr(b: Uint8Array, fn: (type: number, flags: number, v: number, len: number, whole: Uint8Array) => void): void {
  const w = new AttrWalker(b);
  while (w.next()) fn(w.type, w.flags, w.value, w.length, w.whole());
}

/** Whether the attribute-based conditions of `rule` hold for block `b` (4-octet AS_PATH). */
export function attributesMatch(rule: PolicyRule, b: Uint8Array): boolean {
  let ok = true;
  const need = { c: !!rule.communities, l: !!rule.largeCommunities, a: !!rule.asPathContains, o: !!rule.originAs };
  let foundC = false;
  let foundL = false;
  let foundA = false;
  let origin = -1;
  forEachAttr(b, (type, _f, v, len) => {
    if (type === 8 && need.c) for (let q = v; q < v + len; q += 4) if (rule.communities!.includes(u32(b, q))) foundC = true;
    if (type === 32 && need.l) {
      for (let q = v; q < v + len; q += 12) {
        const x = [u32(b, q), u32(b, q + 4), u32(b, q + 8)];
        if (rule.largeCommunities!.some((c) => c[0] === x[0] && c[1] === x[1] && c[2] === x[2])) foundL = true;
      }
    }
    if (type === 2 && (need.a || need.o)) {
      for (let q = v; q < v + len; ) {
        const segType = b[q];
        const n = b[q + 1];
        for (let i = 0; i < n; i++) {
          const asn = u32(b, q + 2 + i * 4);
          if (need.a && rule.asPathContains!.includes(asn)) foundA = true;
          if (segType === 2) origin = asn;
        }
        q += 2 + n * 4;
      }
    }
  });
  if (need.c && !foundC) ok = false;
  if (need.l && !foundL) ok = false;
  if (need.a && !foundA) ok = false;
  if (need.o && !rule.originAs!.includes(origin)) ok = false;
  return ok;
}

/** Whether the prefix (family id, network words, length) meets the rule's prefix condition. */
export function prefixMatches(rule: PolicyRule, fam: number, key: ArrayLike<number>, len: number): boolean {
  if (!rule.prefixes) return true;
  const afi = fam === 1 ? 2 : 1;
  for (const p of rule.prefixes) {
    if (p.afi !== afi || len < p.length || len > p.le) continue;
    let inside = true;
    for (let w = 0, left = p.length; left > 0; w++, left -= 32) {
      const bits = Math.min(32, left);
      const mask = bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
      if (((key[w] & mask) >>> 0) !== ((p.bits[w] & mask) >>> 0)) {
        inside = false;
        break;
      }
    }
    if (inside) return true;
  }
  return false;
}

/** True when some rule looks at the prefix: the decision then cannot be cached per attribute set. */
export function dependsOnPrefix(p: Policy): boolean {
  return p.rules.some((r) => r.prefixes);
}

// ---- changing a raw attribute block ---------------------------------------------------------

const attr = attrBytes;

/**
 * Applies a rule's set actions to block `b`: LOCAL_PREF and MED replaced or added, communities
 * appended, our AS prepended `prepend` extra times. Attribute order is kept; MP_REACH_NLRI
 * stays last.
 */
export function applyActions(rule: PolicyRule, b: Uint8Array, localAs: number): Uint8Array {
  if (rule.setLocalPref === undefined && rule.setMed === undefined && !rule.addCommunities?.length && !rule.prepend) return b;
  const parts: Array<{ type: number; bytes: Uint8Array }> = [];
  let seenLp = false;
  let seenMed = false;
  let seenComm = false;
  forEachAttr(b, (type, flags, v, len, whole) => {
    let bytes = whole;
    if (type === 5 && rule.setLocalPref !== undefined) {
      bytes = attr(0x40, 5, be32(rule.setLocalPref));
      seenLp = true;
    } else if (type === 4 && rule.setMed !== undefined) {
      bytes = attr(0x80, 4, be32(rule.setMed));
      seenMed = true;
    } else if (type === 8 && rule.addCommunities?.length) {
      const old = b.subarray(v, v + len);
      const add = rule.addCommunities.filter((c) => ![...Array(len / 4).keys()].some((i) => u32(old, i * 4) === c));
      const value = new Uint8Array(len + add.length * 4);
      value.set(old);
      add.forEach((c, i) => value.set(be32(c), len + i * 4));
      bytes = attr(flags, 8, value);
      seenComm = true;
    } else if (type === 2 && rule.prepend) {
      const extra = new Uint8Array(rule.prepend * 4);
      for (let i = 0; i < rule.prepend; i++) extra.set(be32(localAs), i * 4);
      const old = b.subarray(v, v + len);
      // Joins the first AS_SEQUENCE when it has room, as a sender would have written it.
      if (len >= 2 && old[0] === 2 && old[1] + rule.prepend <= 255) {
        const value = new Uint8Array(len + extra.length);
        value[0] = 2;
        value[1] = old[1] + rule.prepend;
        value.set(extra, 2);
        value.set(old.subarray(2), 2 + extra.length);
        bytes = attr(flags, 2, value);
      } else {
        const value = new Uint8Array(2 + extra.length + len);
        value[0] = 2;
        value[1] = rule.prepend;
        value.set(extra, 2);
        value.set(old, 2 + extra.length);
        bytes = attr(flags, 2, value);
      }
    }
    parts.push({ type, bytes });
  });
  const added: Array<{ type: number; bytes: Uint8Array }> = [];
  if (rule.setLocalPref !== undefined && !seenLp) added.push({ type: 5, bytes: attr(0x40, 5, be32(rule.setLocalPref)) });
  if (rule.setMed !== undefined && !seenMed) added.push({ type: 4, bytes: attr(0x80, 4, be32(rule.setMed)) });
  if (rule.addCommunities?.length && !seenComm) {
    const value = new Uint8Array(rule.addCommunities.length * 4);
    rule.addCommunities.forEach((c, i) => value.set(be32(c), i * 4));
    added.push({ type: 8, bytes: attr(0xc0, 8, value) });
  }
  const mp = parts.filter((p) => p.type === 14);
  const all = [...parts.filter((p) => p.type !== 14), ...added, ...mp];
  const out = new Uint8Array(all.reduce((s, p) => s + p.bytes.length, 0));
  let o = 0;
  for (const p of all) {
    out.set(p.bytes, o);
    o += p.bytes.length;
  }
  return out;
}
