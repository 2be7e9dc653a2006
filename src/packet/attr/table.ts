// The path attribute table (RFC 4271 §4.3, §5, §6.3; RFC 7606 §3, §7; RFC 4456; RFC 7947):
// for each type code its name, the flags it must carry, its length rule, what RFC 7606 does
// with it when malformed, and how it is treated on the way out to each kind of receiver.
// Every reader of attribute bytes takes its rules from here: the object codec, the worker's
// parse-and-intern, the export rewrite, the load generator and the MRT reader.

import { AttrFlag, AttrType } from '../constants.js';

/** What RFC 7606 §2 does with an UPDATE that carries this attribute malformed. */
export enum OnError {
  /** Only the attribute is dropped; the route stands. */
  Discard = 1,
  /** Every prefix the UPDATE announces is handled as withdrawn. */
  TreatAsWithdraw = 2,
  /** The session ends with a NOTIFICATION (RFC 7606 §7.11: MP_REACH / MP_UNREACH). */
  Reset = 3,
}

/** How an attribute leaves for one kind of receiver (RFC 4271 §5.1, RFC 4456 §8, RFC 7947 §2). */
export enum OnExport {
  /** Sent as stored. */
  Keep = 0,
  /** Not sent. */
  Drop = 1,
  /** Rewritten for the receiver: AS_PATH prepend, NEXT_HOP self, LOCAL_PREF default. */
  Rewrite = 2,
}

/** The receiver kinds the export columns are indexed by. */
export enum Receiver {
  Ibgp = 0,
  Ebgp = 1,
  /** RFC 7947: an eBGP route-server client (transparent: no prepend, next hop and MED kept). */
  RouteServerClient = 2,
}

export interface AttrSpec {
  readonly type: number;
  readonly name: string;
  /** The Optional and Transitive bits it must carry (RFC 4271 §5, RFC 7606 §3(c)). */
  readonly flags: number;
  /** Exact value length, or -1 for a variable length. */
  readonly size: number;
  /** Exact length from a peer without 4-octet AS numbers (AGGREGATOR), else -1 for `size`. */
  readonly size2: number;
  /** Variable length: a non-zero multiple of this many octets (0: any length). */
  readonly unit: number;
  readonly onError: OnError;
  /** Received from an external peer it is dropped (RFC 7606 §7.5, §7.9, §7.10). */
  readonly internalOnly: boolean;
  /** Received from a 4-octet-AS peer it is dropped (RFC 6793 §3). */
  readonly oldSpeakerOnly: boolean;
  /** Kept in the stored attribute set (MP_UNREACH_NLRI and the AS4_ pair are not). */
  readonly stored: boolean;
  /** What leaves for [iBGP, eBGP, route-server client]. */
  readonly export: readonly [OnExport, OnExport, OnExport];
  readonly rfc: string;
}

const WK = AttrFlag.Transitive;
const OPT = AttrFlag.Optional;
const OPT_T = AttrFlag.Optional | AttrFlag.Transitive;
const TAW = OnError.TreatAsWithdraw;
const DISCARD = OnError.Discard;
const K = OnExport.Keep;
const D = OnExport.Drop;
const R = OnExport.Rewrite;

function spec(
  type: number,
  name: string,
  flags: number,
  length: { size?: number; size2?: number; unit?: number },
  onError: OnError,
  exp: [OnExport, OnExport, OnExport],
  rfc: string,
  more: { internalOnly?: boolean; oldSpeakerOnly?: boolean; stored?: boolean } = {},
): AttrSpec {
  return {
    type,
    name,
    flags,
    size: length.size ?? -1,
    size2: length.size2 ?? -1,
    unit: length.unit ?? 0,
    onError,
    internalOnly: more.internalOnly ?? false,
    oldSpeakerOnly: more.oldSpeakerOnly ?? false,
    stored: more.stored ?? true,
    export: exp,
    rfc,
  };
}

/** The known attributes, by type code. */
export const ATTRIBUTES: readonly AttrSpec[] = [
  spec(AttrType.ORIGIN, 'ORIGIN', WK, { size: 1 }, TAW, [K, K, K], 'RFC 4271 §5.1.1, RFC 7606 §7.1'),
  // AS_PATH: prepended towards eBGP (§5.1.2), untouched for a route-server client (RFC 7947 §2.2).
  spec(AttrType.AS_PATH, 'AS_PATH', WK, {}, TAW, [K, R, K], 'RFC 4271 §5.1.2, RFC 7606 §7.2'),
  // NEXT_HOP: ours towards eBGP (§5.1.3), unchanged within the AS and for a route-server client.
  spec(AttrType.NEXT_HOP, 'NEXT_HOP', WK, { size: 4 }, TAW, [K, R, K], 'RFC 4271 §5.1.3, RFC 7606 §7.3'),
  // MED is not passed from one neighboring AS to another (§5.1.4), except through a route server.
  spec(AttrType.MULTI_EXIT_DISC, 'MULTI_EXIT_DISC', OPT, { size: 4 }, TAW, [K, D, K], 'RFC 4271 §5.1.4, RFC 7606 §7.4'),
  // LOCAL_PREF only within the AS; a route without one gets the default towards iBGP (§5.1.5).
  spec(AttrType.LOCAL_PREF, 'LOCAL_PREF', WK, { size: 4 }, TAW, [R, D, D], 'RFC 4271 §5.1.5, RFC 7606 §7.5', { internalOnly: true }),
  spec(AttrType.ATOMIC_AGGREGATE, 'ATOMIC_AGGREGATE', WK, { size: 0 }, DISCARD, [K, K, K], 'RFC 4271 §5.1.6, RFC 7606 §7.6'),
  spec(AttrType.AGGREGATOR, 'AGGREGATOR', OPT_T, { size: 8, size2: 6 }, DISCARD, [K, K, K], 'RFC 4271 §5.1.7, RFC 6793 §4, RFC 7606 §7.7'),
  spec(AttrType.COMMUNITIES, 'COMMUNITIES', OPT_T, { unit: 4 }, TAW, [K, K, K], 'RFC 1997, RFC 7606 §7.8'),
  // Route reflection (RFC 4456 §8): set or extended when reflecting, never sent outside the AS.
  spec(AttrType.ORIGINATOR_ID, 'ORIGINATOR_ID', OPT, { size: 4 }, TAW, [R, D, D], 'RFC 4456 §8, RFC 7606 §7.9', { internalOnly: true }),
  spec(AttrType.CLUSTER_LIST, 'CLUSTER_LIST', OPT, { unit: 4 }, TAW, [R, D, D], 'RFC 4456 §8, RFC 7606 §7.10', { internalOnly: true }),
  // Stored without NLRI as the next hop of an IPv6 path; the writer appends the NLRI.
  spec(AttrType.MP_REACH_NLRI, 'MP_REACH_NLRI', OPT, {}, OnError.Reset, [K, R, K], 'RFC 4760 §3, RFC 7606 §7.11'),
  spec(AttrType.MP_UNREACH_NLRI, 'MP_UNREACH_NLRI', OPT, {}, OnError.Reset, [D, D, D], 'RFC 4760 §4, RFC 7606 §7.11', { stored: false }),
  spec(AttrType.EXTENDED_COMMUNITIES, 'EXTENDED_COMMUNITIES', OPT_T, { unit: 8 }, TAW, [K, K, K], 'RFC 4360, RFC 7606 §7.14'),
  // From a 2-octet-AS peer merged into AS_PATH / AGGREGATOR; re-made for such a receiver.
  spec(AttrType.AS4_PATH, 'AS4_PATH', OPT_T, {}, DISCARD, [D, D, D], 'RFC 6793 §4.2.3, §6', { oldSpeakerOnly: true, stored: false }),
  spec(AttrType.AS4_AGGREGATOR, 'AS4_AGGREGATOR', OPT_T, { size: 8 }, DISCARD, [D, D, D], 'RFC 6793 §4.2.3, §6', { oldSpeakerOnly: true, stored: false }),
  spec(AttrType.LARGE_COMMUNITY, 'LARGE_COMMUNITY', OPT_T, { unit: 12 }, TAW, [K, K, K], 'RFC 8092 §5'),
  spec(AttrType.OTC, 'OTC', OPT_T, { size: 4 }, TAW, [K, K, K], 'RFC 9234 §5'),
].reduce<AttrSpec[]>((t, s) => {
  t[s.type] = s;
  return t;
}, []);

/** The rules for `type`, or undefined for an attribute this speaker does not recognise. */
export function attrSpec(type: number): AttrSpec | undefined {
  return ATTRIBUTES[type];
}

export function isKnownAttribute(type: number): boolean {
  return ATTRIBUTES[type] !== undefined;
}

/** The flags a new attribute of this type is written with (unknown ones: optional transitive). */
export function defaultFlags(type: number): number {
  return ATTRIBUTES[type]?.flags ?? OPT_T;
}

export function attrName(type: number): string {
  return ATTRIBUTES[type]?.name ?? `attribute ${type}`;
}

/**
 * How an unrecognised attribute leaves (RFC 4271 §5, §9.1.3): an optional transitive one is
 * passed on with the Partial bit set, an optional non-transitive one is dropped.
 */
export function unknownExport(flags: number): OnExport {
  return flags & AttrFlag.Transitive ? OnExport.Keep : OnExport.Drop;
}
