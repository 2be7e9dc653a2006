// RFC 7606 on a block of path attributes: one verdict (session reset, treat-as-withdraw,
// attribute discard, or none) reached the same way by the object codec and by the workers,
// from the rules in the attribute table.

import { AttrFlag, AttrType } from '../constants.js';
import { UpdateSubcode } from '../errors.js';
import { PrefixWalker } from '../nlri.js';
import { ATTRIBUTES, OnError, type AttrSpec } from './table.js';
import { AttrWalker } from './walk.js';

/** What the receiving session changes about the meaning of attribute bytes. */
export interface AttrContext {
  /** RFC 6793: AS numbers in AS_PATH and AGGREGATOR take 4 octets. */
  asn4: boolean;
  /** The peer is external: LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST from it are dropped. */
  ebgp?: boolean;
  /** RFC 7911: path identifiers precede prefixes we receive, per family. */
  addPath?: { ipv4?: boolean; ipv6?: boolean };
}

/** Why the last checkAttribute() found an attribute malformed (for the log), and the RFC 4271 §6.3 subcode. */
export let lastReason = '';
export let lastSubcode = 0;

function bad(action: OnError, subcode: number, reason: string): OnError {
  lastReason = reason;
  lastSubcode = subcode;
  return action;
}

/** MP_REACH_NLRI / MP_UNREACH_NLRI families whose NLRI is a list of prefixes (RFC 4760 §5). */
export function prefixFamily(afi: number, safi: number): boolean {
  return (afi === 1 || afi === 2) && (safi === 1 || safi === 2);
}

const prefixes = new PrefixWalker();

/** The prefixes in b[start, end) of a family, counted; -1 when one is malformed (RFC 7606 §5.3). */
export function countPrefixes(b: Uint8Array, start: number, end: number, afi: number, addPath: boolean): number {
  let n = 0;
  prefixes.reset(b, start, end, afi, addPath);
  while (prefixes.next()) n++;
  return prefixes.error ? -1 : n;
}

/** RFC 7606 §7.2: segment types 1..4, no empty segment, no segment past the value. */
export function asPathWellFormed(b: Uint8Array, v: number, len: number, asSize: number): boolean {
  const end = v + len;
  for (let q = v; q < end; ) {
    if (q + 2 > end) return false;
    const segType = b[q];
    const n = b[q + 1];
    if (segType < 1 || segType > 4 || n === 0) return false;
    q += 2 + n * asSize;
    if (q > end) return false;
  }
  return true;
}

/**
 * RFC 4760 §3/§4 and RFC 7606 §7.11 on MP_REACH_NLRI / MP_UNREACH_NLRI: the framing, a next
 * hop of a length the family defines, and prefixes that parse. Returns the number of
 * prefixes (for a family whose NLRI is not a prefix list: 1 when there is any), or -1
 * (`lastReason` says why).
 */
function mpPrefixes(type: number, b: Uint8Array, v: number, len: number, ctx: AttrContext): number {
  const unreach = type === AttrType.MP_UNREACH_NLRI;
  if (len < (unreach ? 3 : 5)) return bad(OnError.Reset, UpdateSubcode.OptionalAttributeError, `${unreach ? 'MP_UNREACH_NLRI shorter than 3' : 'MP_REACH_NLRI shorter than 5'} octets`), -1;
  const afi = (b[v] << 8) | b[v + 1];
  const safi = b[v + 2];
  const known = prefixFamily(afi, safi);
  let nlri = v + 3;
  if (!unreach) {
    const nhLen = b[v + 3];
    if (4 + nhLen + 1 > len) return bad(OnError.Reset, UpdateSubcode.OptionalAttributeError, 'MP_REACH_NLRI next hop overruns the attribute'), -1;
    // IPv4 NLRI may carry an IPv6 next hop (RFC 8950); a link-local one makes 32 octets.
    const ok = !known || (afi === 1 ? nhLen === 4 || nhLen === 16 || nhLen === 32 : nhLen === 16 || nhLen === 32);
    if (!ok) return bad(OnError.Reset, UpdateSubcode.OptionalAttributeError, `next hop length ${nhLen} for AFI ${afi}`), -1;
    nlri = v + 4 + nhLen + 1;
  }
  const n = known ? countPrefixes(b, nlri, v + len, afi, !!(afi === 1 ? ctx.addPath?.ipv4 : ctx.addPath?.ipv6)) : nlri < v + len ? 1 : 0;
  if (n < 0) return bad(OnError.Reset, UpdateSubcode.OptionalAttributeError, `${unreach ? 'MP_UNREACH_NLRI' : 'MP_REACH_NLRI'}: malformed prefix`), -1;
  lastMpPrefixes = n;
  return n;
}

/** The prefixes the last MP_REACH_NLRI / MP_UNREACH_NLRI checkAttribute() passed carries. */
let lastMpPrefixes = 0;

/**
 * One known attribute against its rules: 0 when it may be used, else what RFC 7606 does with
 * it (`lastReason` and `lastSubcode` say why). Order: who may send it (RFC 7606 §7.5, §7.9,
 * §7.10; RFC 6793 §3), then flags (§3(c)), then length and value.
 */
export function checkAttribute(s: AttrSpec, flags: number, b: Uint8Array, v: number, len: number, ctx: AttrContext): OnError | 0 {
  const type = s.type;
  if (s.internalOnly && ctx.ebgp) return bad(OnError.Discard, 0, `${s.name} from an external peer`);
  if (s.oldSpeakerOnly && ctx.asn4) return bad(OnError.Discard, 0, `${s.name} from a 4-octet-AS peer`);
  if ((flags & (AttrFlag.Optional | AttrFlag.Transitive)) !== s.flags) {
    return bad(s.onError, s.onError === OnError.Reset ? UpdateSubcode.OptionalAttributeError : UpdateSubcode.AttributeFlagsError, `${s.name}: flags 0x${flags.toString(16)}`);
  }
  const size = !ctx.asn4 && s.size2 >= 0 ? s.size2 : s.size;
  if (size >= 0 ? len !== size : s.unit > 0 && (len === 0 || len % s.unit !== 0)) return bad(s.onError, UpdateSubcode.AttributeLengthError, `${s.name}: length ${len}`);
  switch (type) {
    case AttrType.ORIGIN:
      if (b[v] > 2) return bad(s.onError, UpdateSubcode.InvalidOriginAttribute, `undefined ORIGIN ${b[v]}`);
      break;
    case AttrType.AS_PATH:
      if (!asPathWellFormed(b, v, len, ctx.asn4 ? 4 : 2)) return bad(s.onError, UpdateSubcode.MalformedAsPath, 'AS_PATH: malformed segments');
      break;
    case AttrType.AS4_PATH:
      // RFC 6793 §6: at least one segment of one AS, whole 4-octet numbers.
      if (len < 6 || len % 2 !== 0 || !asPathWellFormed(b, v, len, 4)) return bad(s.onError, UpdateSubcode.MalformedAsPath, 'AS4_PATH: malformed');
      break;
    case AttrType.MP_REACH_NLRI:
    case AttrType.MP_UNREACH_NLRI:
      if (mpPrefixes(type, b, v, len, ctx) < 0) return OnError.Reset;
  }
  return 0;
}

const NO_DATA = new Uint8Array(0);

/**
 * The verdict on one UPDATE's attribute block, reusable from message to message. `drop` holds
 * the header offsets of the attributes that are not kept (discarded or repeated), `discarded`
 * their type codes.
 */
export class BlockVerdict {
  verdict: OnError | 0 = 0;
  /** For a session reset: the NOTIFICATION's subcode (code 3) and data. */
  subcode = 0;
  data: Uint8Array = NO_DATA;
  reason = '';
  readonly discarded: number[] = [];
  readonly drop: number[] = [];
  /** One line per problem found, for the log. */
  readonly problems: string[] = [];
  /** RFC 4271 §6.3 subcode of the first error handled as withdraw (RFC 7606 §5.2 resets with it). */
  withdrawSubcode = 0;
  /** An attribute other than MP_UNREACH_NLRI was read (RFC 7606 §5.2). */
  pathAttributes = false;
  /** Prefixes MP_REACH_NLRI announces. */
  mpReachPrefixes = 0;
  /** Value offset and length of MP_REACH_NLRI / MP_UNREACH_NLRI, or -1. */
  mpReach = -1;
  mpReachLength = 0;
  mpUnreach = -1;
  mpUnreachLength = 0;
  /** Per type code, the check that last saw it: repeats found without clearing 256 entries. */
  private readonly seenIn = new Uint32Array(256);
  private generation = 0;

  begin(): void {
    this.verdict = 0;
    this.subcode = 0;
    this.data = NO_DATA;
    this.reason = '';
    this.discarded.length = 0;
    this.drop.length = 0;
    this.problems.length = 0;
    this.withdrawSubcode = 0;
    this.pathAttributes = false;
    this.mpReachPrefixes = 0;
    this.mpReach = this.mpUnreach = -1;
    this.mpReachLength = this.mpUnreachLength = 0;
    if (++this.generation === 0xffffffff) {
      this.seenIn.fill(0);
      this.generation = 1;
    }
  }

  /** Marks `type` seen; true when it had been seen before in this block. */
  repeated(type: number): boolean {
    if (this.seenIn[type] === this.generation) return true;
    this.seenIn[type] = this.generation;
    return false;
  }

  seen(type: number): boolean {
    return this.seenIn[type] === this.generation;
  }

  raise(action: OnError, reason: string, subcode = 0): void {
    this.problems.push(reason);
    if (action === OnError.TreatAsWithdraw && this.withdrawSubcode === 0) this.withdrawSubcode = subcode;
    if (action > this.verdict) {
      this.verdict = action;
      this.reason = reason;
    }
  }

  reset(subcode: number, reason: string, data: Uint8Array = NO_DATA): void {
    this.raise(OnError.Reset, reason);
    this.subcode = subcode;
    this.data = data;
    this.reason = reason;
  }
}

const walker = new AttrWalker();

/**
 * RFC 7606 over the attributes in b[start, end) of an UPDATE that announces prefixes in its
 * NLRI field (`nlri`) or not. The most severe outcome wins (§3(j)); a session reset stops the
 * walk. Missing well-known attributes (§3(d)) are looked for only when something is announced.
 */
export function checkAttributes(b: Uint8Array, start: number, end: number, ctx: AttrContext, nlri: boolean, out: BlockVerdict): BlockVerdict {
  out.begin();
  let nextHopError = '';
  let nextHopSubcode = 0;
  const w = walker.reset(b, start, end);
  while (w.next()) {
    const { type, flags, value, length } = w;
    if (type !== AttrType.MP_UNREACH_NLRI) out.pathAttributes = true;
    if (out.repeated(type)) {
      // §3(g): MP_REACH / MP_UNREACH twice ends the session; any other repeat is dropped.
      if (type === AttrType.MP_REACH_NLRI || type === AttrType.MP_UNREACH_NLRI) {
        out.reset(UpdateSubcode.MalformedAttributeList, `repeated attribute ${type}`);
        return out;
      }
      out.drop.push(w.at);
      out.discarded.push(type);
      out.problems.push(`repeated attribute ${type} discarded`);
      continue;
    }
    const s = ATTRIBUTES[type];
    if (s === undefined) {
      // RFC 4271 §6.3: an unrecognised well-known attribute.
      if ((flags & AttrFlag.Optional) === 0) {
        out.reset(UpdateSubcode.UnrecognizedWellKnownAttribute, `unrecognized well-known attribute ${type}`, w.whole().slice());
        return out;
      }
      continue;
    }
    const action = checkAttribute(s, flags, b, value, length, ctx);
    if (action === OnError.Reset) {
      out.reset(UpdateSubcode.OptionalAttributeError, lastReason);
      return out;
    }
    if (action !== 0 && type === AttrType.NEXT_HOP) {
      // Judged at the end: an UPDATE whose only NLRI is in MP_REACH_NLRI ignores NEXT_HOP (RFC 4760 §3).
      nextHopError = lastReason;
      nextHopSubcode = lastSubcode;
      out.drop.push(w.at);
      continue;
    }
    if (action === OnError.Discard) {
      out.drop.push(w.at);
      out.discarded.push(type);
    }
    if (action !== 0) {
      out.raise(action, `${lastReason} (${action === OnError.Discard ? 'attribute discard' : 'treat-as-withdraw'})`, lastSubcode);
      continue;
    }
    if (type === AttrType.MP_REACH_NLRI) {
      out.mpReach = value;
      out.mpReachLength = length;
      out.mpReachPrefixes = lastMpPrefixes; // counted by checkAttribute()
    } else if (type === AttrType.MP_UNREACH_NLRI) {
      out.mpUnreach = value;
      out.mpUnreachLength = length;
    }
  }
  // §4: an attribute running past the block.
  if (w.overrun) out.raise(OnError.TreatAsWithdraw, 'attribute overruns the path attributes (treat-as-withdraw)', UpdateSubcode.MalformedAttributeList);
  if (nextHopError && (nlri || out.mpReach < 0)) out.raise(OnError.TreatAsWithdraw, `${nextHopError} (treat-as-withdraw)`, nextHopSubcode);
  if (out.verdict < OnError.TreatAsWithdraw && (nlri || out.mpReachPrefixes > 0)) {
    const missing = [AttrType.ORIGIN, AttrType.AS_PATH];
    if (nlri) missing.push(AttrType.NEXT_HOP);
    if (ctx.ebgp === false) missing.push(AttrType.LOCAL_PREF);
    for (const t of missing) {
      if (!out.seen(t)) out.raise(OnError.TreatAsWithdraw, `missing well-known attribute ${t} (treat-as-withdraw)`, UpdateSubcode.MissingWellKnownAttribute);
    }
  }
  return out;
}

/**
 * The block without the attributes `drop` names (header offsets from checkAttributes), as a
 * new array; `b` itself when nothing is dropped.
 */
export function withoutDropped(b: Uint8Array, start: number, end: number, drop: readonly number[]): Uint8Array {
  if (drop.length === 0) return b.subarray(start, end);
  const out = new Uint8Array(end - start);
  let o = 0;
  const w = walker.reset(b, start, end);
  while (w.next()) {
    if (drop.includes(w.at)) continue;
    const whole = w.whole();
    out.set(whole, o);
    o += whole.length;
  }
  return out.subarray(0, o);
}
