// RFC 7606 on a block of path attributes: one verdict (session reset, treat-as-withdraw,
// attribute discard, or none) reached the same way by the object codec and by the workers,
// from the rules in the attribute table.

import { AttrFlag, AttrType } from '../constants.js';
import { UpdateSubcode } from '../errors.js';
import { ATTRIBUTES, OnError, type AttrSpec } from './table.js';
import { AttrWalker } from './walk.js';

/** What the receiving session changes about the meaning of attribute bytes. */
export interface AttrContext {
  /** RFC 6793: AS numbers in AS_PATH and AGGREGATOR take 4 octets. */
  asn4: boolean;
  /** The peer is external: LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST from it are dropped. */
  ebgp?: boolean;
}

/** Why the last checkAttribute() found an attribute malformed (for the log). */
export let lastReason = '';

function bad(action: OnError, reason: string): OnError {
  lastReason = reason;
  return action;
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
 * RFC 4760 §3/§4 framing of MP_REACH_NLRI / MP_UNREACH_NLRI (the prefixes in them are
 * checked by whoever decodes them). Known families need a next hop of a length they define.
 */
function mpWellFormed(type: number, b: Uint8Array, v: number, len: number): string | null {
  if (type === AttrType.MP_UNREACH_NLRI) return len < 3 ? 'MP_UNREACH_NLRI shorter than 3 octets' : null;
  if (len < 5) return 'MP_REACH_NLRI shorter than 5 octets';
  const afi = (b[v] << 8) | b[v + 1];
  const nhLen = b[v + 3];
  if (4 + nhLen + 1 > len) return 'MP_REACH_NLRI next hop overruns the attribute';
  // IPv4 NLRI may carry an IPv6 next hop (RFC 8950); a link-local one makes 32 octets.
  const ok = afi === 1 ? nhLen === 4 || nhLen === 16 || nhLen === 32 : afi === 2 ? nhLen === 16 || nhLen === 32 : true;
  return ok ? null : `next hop length ${nhLen} for AFI ${afi}`;
}

/**
 * One known attribute against its rules: 0 when it may be used, else what RFC 7606 does with
 * it (`lastReason` says why). Order: flags (§3(c)), then who may send it, then its length and
 * value.
 */
export function checkAttribute(s: AttrSpec, flags: number, b: Uint8Array, v: number, len: number, ctx: AttrContext): OnError | 0 {
  const type = s.type;
  const mp = type === AttrType.MP_REACH_NLRI || type === AttrType.MP_UNREACH_NLRI;
  if (!mp && (flags & (AttrFlag.Optional | AttrFlag.Transitive)) !== s.flags) return bad(s.onError, `${s.name}: flags 0x${flags.toString(16)}`);
  if (s.internalOnly && ctx.ebgp) return bad(OnError.Discard, `${s.name} from an external peer`);
  if (s.oldSpeakerOnly && ctx.asn4) return bad(OnError.Discard, `${s.name} from a 4-octet-AS peer`);
  const size = !ctx.asn4 && s.size2 >= 0 ? s.size2 : s.size;
  if (size >= 0 ? len !== size : s.unit > 0 && (len === 0 || len % s.unit !== 0)) return bad(s.onError, `${s.name}: length ${len}`);
  switch (type) {
    case AttrType.ORIGIN:
      if (b[v] > 2) return bad(s.onError, `undefined ORIGIN ${b[v]}`);
      break;
    case AttrType.AS_PATH:
    case AttrType.AS4_PATH:
      if (!asPathWellFormed(b, v, len, type === AttrType.AS4_PATH || ctx.asn4 ? 4 : 2)) return bad(s.onError, `${s.name}: malformed segments`);
      break;
    case AttrType.MP_REACH_NLRI:
    case AttrType.MP_UNREACH_NLRI: {
      const why = mpWellFormed(type, b, v, len);
      if (why) return bad(OnError.Reset, why);
    }
  }
  return 0;
}

/**
 * The verdict on one UPDATE's attribute block, reusable from message to message. `drop` holds
 * the header offsets of the attributes that are not kept (discarded or repeated), `discarded`
 * their type codes.
 */
export class BlockVerdict {
  verdict: OnError | 0 = 0;
  /** For a session reset: the NOTIFICATION's subcode (code 3) and data. */
  subcode = 0;
  data: Uint8Array = new Uint8Array(0);
  reason = '';
  readonly discarded: number[] = [];
  readonly drop: number[] = [];
  /** One line per problem found, for the log. */
  readonly problems: string[] = [];
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
    this.data = new Uint8Array(0);
    this.reason = '';
    this.discarded.length = 0;
    this.drop.length = 0;
    this.problems.length = 0;
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

  raise(action: OnError, reason: string): void {
    this.problems.push(reason);
    if (action > this.verdict) {
      this.verdict = action;
      this.reason = reason;
    }
  }

  reset(subcode: number, reason: string, data: Uint8Array = new Uint8Array(0)): void {
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
  const w = walker.reset(b, start, end);
  while (w.next()) {
    const { type, flags, value, length } = w;
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
    if (action === OnError.Discard) {
      out.drop.push(w.at);
      out.discarded.push(type);
    }
    if (action !== 0) {
      out.raise(action, `${lastReason} (${action === OnError.Discard ? 'attribute discard' : 'treat-as-withdraw'})`);
      continue;
    }
    if (type === AttrType.MP_REACH_NLRI) {
      out.mpReach = value;
      out.mpReachLength = length;
    } else if (type === AttrType.MP_UNREACH_NLRI) {
      out.mpUnreach = value;
      out.mpUnreachLength = length;
    }
  }
  // §4: an attribute running past the block.
  if (w.overrun) out.raise(OnError.TreatAsWithdraw, 'attribute overruns the path attributes (treat-as-withdraw)');
  if (out.verdict < OnError.TreatAsWithdraw && (nlri || out.mpReach >= 0)) {
    const missing = [AttrType.ORIGIN, AttrType.AS_PATH];
    if (nlri) missing.push(AttrType.NEXT_HOP);
    if (ctx.ebgp === false) missing.push(AttrType.LOCAL_PREF);
    for (const t of missing) if (!out.seen(t)) out.raise(OnError.TreatAsWithdraw, `missing well-known attribute ${t} (treat-as-withdraw)`);
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
