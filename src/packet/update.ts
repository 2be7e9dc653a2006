// UPDATE message (RFC 4271 §4.3) with revised error handling (RFC 7606).

import type { Prefix } from './address.js';
import { OnError } from './attr/table.js';
import { BlockVerdict, checkAttributes } from './attr/validate.js';
import { AttrWalker } from './attr/walk.js';
import {
  AttributeError,
  decodeAttribute,
  encodeAttribute,
  type CodecContext,
  type PathAttribute,
} from './attributes.js';
import { AttrFlag, AttrType, HEADER_LENGTH, MessageType } from './constants.js';
import { BgpError, ErrorCode, UpdateSubcode } from './errors.js';
import { encodeMessage } from './header.js';
import { decodeNlri, encodeNlri } from './nlri.js';
import { concat, type Family } from './open.js';

export interface UpdateMessage {
  /** IPv4 unicast prefixes in the Withdrawn Routes field. */
  withdrawn: Prefix[];
  attributes: PathAttribute[];
  /** IPv4 unicast prefixes in the NLRI field. */
  nlri: Prefix[];
}

export interface DecodedUpdate extends UpdateMessage {
  /**
   * RFC 7606 §2 treat-as-withdraw: every prefix this UPDATE announces (NLRI and MP_REACH)
   * must be handled as withdrawn.
   */
  treatAsWithdraw: boolean;
  /** Attributes dropped under RFC 7606 attribute-discard or as duplicates (§3(g)). */
  discarded: number[];
  /** One line per error found, for the log. */
  problems: string[];
}

/**
 * Decodes an UPDATE (header included). Errors RFC 7606 still handles with a session reset
 * throw BgpError; everything else is reported on the result.
 */
export function decodeUpdate(msg: Uint8Array, ctx: CodecContext): DecodedUpdate {
  const end = msg.length;
  let p = HEADER_LENGTH;
  const withdrawnLen = (msg[p] << 8) | msg[p + 1];
  p += 2;
  if (p + withdrawnLen + 2 > end) {
    throw new BgpError(ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList, undefined, 'withdrawn routes length overruns the message');
  }
  const withdrawnAt = p;
  p += withdrawnLen;
  const attrLen = (msg[p] << 8) | msg[p + 1];
  p += 2;
  if (p + attrLen > end) {
    throw new BgpError(ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList, undefined, 'path attribute length overruns the message');
  }
  const attrEnd = p + attrLen;
  // RFC 4271 §6.3 in its order: the path attributes (a session reset wins, RFC 7606 §3(j)),
  // then the Withdrawn Routes and NLRI fields.
  const check = checkAttributes(msg, p, attrEnd, ctx, attrEnd < end, verdict);
  if (check.verdict === OnError.Reset) throw new BgpError(ErrorCode.UpdateMessage, check.subcode, check.data, check.reason);
  const withdrawn = decodeNlri(msg, withdrawnAt, withdrawnAt + withdrawnLen, 1, !!ctx.addPath?.ipv4, UpdateSubcode.InvalidNetworkField);
  const nlri = decodeNlri(msg, attrEnd, end, 1, !!ctx.addPath?.ipv4, UpdateSubcode.InvalidNetworkField);
  // RFC 7606 §5.2: an UPDATE with path attributes but nothing to withdraw them from cannot be
  // treated as withdraw: the session is reset.
  if (check.verdict === OnError.TreatAsWithdraw && nlri.length === 0 && check.mpReachPrefixes === 0 && check.pathAttributes) {
    throw new BgpError(ErrorCode.UpdateMessage, check.withdrawSubcode, undefined, `${check.reason}, and no NLRI (RFC 7606 §5.2)`);
  }
  const attributes: PathAttribute[] = [];
  const w = new AttrWalker(msg, p, attrEnd);
  while (w.next()) {
    if (check.drop.includes(w.at)) continue;
    try {
      attributes.push(decodeAttribute(w.type, w.flags, msg.subarray(w.value, w.value + w.length), ctx));
    } catch (e) {
      if (!(e instanceof AttributeError)) throw e; // MP_REACH / MP_UNREACH prefixes: reset
    }
  }
  return {
    withdrawn,
    attributes,
    nlri,
    treatAsWithdraw: check.verdict === OnError.TreatAsWithdraw,
    discarded: [...check.discarded],
    problems: [...check.problems],
  };
}

const verdict = new BlockVerdict();

export function encodeUpdate(u: UpdateMessage, ctx: CodecContext): Uint8Array {
  const withdrawn = encodeNlri(u.withdrawn, !!ctx.addPath?.ipv4);
  const attrs = concat(u.attributes.map((a) => encodeAttribute(a, ctx)));
  const nlri = encodeNlri(u.nlri, !!ctx.addPath?.ipv4);
  const body = new Uint8Array(4 + withdrawn.length + attrs.length + nlri.length);
  body[0] = withdrawn.length >> 8;
  body[1] = withdrawn.length & 0xff;
  body.set(withdrawn, 2);
  const q = 2 + withdrawn.length;
  body[q] = attrs.length >> 8;
  body[q + 1] = attrs.length & 0xff;
  body.set(attrs, q + 2);
  body.set(nlri, q + 2 + attrs.length);
  return encodeMessage(MessageType.UPDATE, body);
}

/** The End-of-RIB marker for a family (RFC 4724 §2). */
export function encodeEndOfRib(family: Family): Uint8Array {
  if (family.afi === 1 && family.safi === 1) return encodeUpdate({ withdrawn: [], attributes: [], nlri: [] }, { asn4: true });
  const attr: PathAttribute = { type: AttrType.MP_UNREACH_NLRI, flags: AttrFlag.Optional, afi: family.afi, safi: family.safi, withdrawn: [] };
  return encodeUpdate({ withdrawn: [], attributes: [attr], nlri: [] }, { asn4: true });
}

/**
 * Recognises End-of-RIB from the bytes alone, without decoding the UPDATE: the empty
 * UPDATE for IPv4 unicast, or one that holds only an empty MP_UNREACH_NLRI.
 */
export function endOfRibFamily(msg: Uint8Array): Family | null {
  const len = msg.length;
  if (len === 23 && msg[19] === 0 && msg[20] === 0 && msg[21] === 0 && msg[22] === 0) return { afi: 1, safi: 1 };
  // 19 header + 2 withdrawn len + 2 attr len + flags + type + len(1 or 2) + AFI(2) + SAFI(1)
  if (len !== 29 && len !== 30) return null;
  if (msg[19] !== 0 || msg[20] !== 0) return null;
  if (((msg[21] << 8) | msg[22]) !== len - 23) return null;
  const w = new AttrWalker(msg, 23, len);
  if (!w.next() || w.type !== AttrType.MP_UNREACH_NLRI || w.length !== 3) return null;
  const v = w.value;
  return { afi: (msg[v] << 8) | msg[v + 1], safi: msg[v + 2] };
}
