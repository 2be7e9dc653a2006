// An independent reference decoder for BGP UPDATE messages, written from the RFC text alone:
// RFC 4271 §4.3 and §6.3 (base encoding and error handling) as revised by RFC 7606, RFC 4760
// (multiprotocol), RFC 6793 (4-octet AS numbers), RFC 7911 (ADD-PATH), RFC 1997, RFC 4360,
// RFC 4456, RFC 8092 and RFC 9234 for the attributes they define.
//
// It shares nothing with the implementation under test (no tables, no constants, no helpers):
// every number below is read from the RFCs. It is slow and plain on purpose.
//
// Where the RFCs leave a choice open, the choice is written beside the rule as "Choice:".

export interface RefContext {
  /** Both sides sent the 4-octet AS capability (RFC 6793 §4.1). */
  asn4: boolean;
  /** The peer is external (RFC 4271 §5.1.5, RFC 7606 §7.5, §7.9, §7.10). */
  ebgp: boolean;
  /** RFC 7911 path identifiers on received IPv4 / IPv6 NLRI. */
  addPath4: boolean;
  addPath6: boolean;
}

/** A path attribute kept after error handling: flags as received, value octets. */
export interface RefAttr {
  flags: number;
  type: number;
  value: Uint8Array;
}

export interface RefReset {
  kind: 'reset';
  code: number;
  subcode: number;
  reason: string;
}

export interface RefOk {
  kind: 'ok';
  /** Unicast prefixes withdrawn: Withdrawn Routes field and MP_UNREACH_NLRI (SAFI 1). */
  withdrawn: string[];
  /** Unicast prefixes the UPDATE announces (NLRI field, then MP_REACH_NLRI SAFI 1). */
  announced: string[];
  /** Which of `announced` came from the NLRI field (the rest from MP_REACH_NLRI). */
  announcedClassic: string[];
  /** RFC 7606 §2: every announced route is handled as withdrawn. */
  treatAsWithdraw: boolean;
  /** Type codes of attributes dropped by "attribute discard" or as repeats (§3(g)), one per drop. */
  discarded: number[];
  /** The kept attributes (first occurrences, not discarded), in wire order. */
  kept: RefAttr[];
  /** Type code -> hex of the kept value (the normalized map). */
  attrs: Record<number, string>;
  /** What a route stores (4-octet AS numbers, no NLRI), per where it was announced. */
  storedClassic: RefAttr[];
  storedMp: RefAttr[];
  /** One line per error found. */
  problems: string[];
}

export type RefVerdict = RefReset | RefOk;

// RFC 4271 §4.5 / §6.3 error codes and UPDATE Message Error subcodes.
const UPDATE_MESSAGE_ERROR = 3;
const MALFORMED_ATTRIBUTE_LIST = 1;
const UNRECOGNIZED_WELL_KNOWN = 2;
const ATTRIBUTE_FLAGS_ERROR = 4;
const ATTRIBUTE_LENGTH_ERROR = 5;
const INVALID_ORIGIN = 6;
const OPTIONAL_ATTRIBUTE_ERROR = 9;
const INVALID_NETWORK_FIELD = 10;
const MALFORMED_AS_PATH = 11;

// RFC 4271 §4.3 attribute flag bits.
const OPTIONAL = 0x80;
const TRANSITIVE = 0x40;
const EXTENDED_LENGTH = 0x10;

// RFC 6793 §9: AS_TRANS.
const AS_TRANS = 23456;

/** The action RFC 7606 §2 names, strongest first. */
type Action = 'reset' | 'withdraw' | 'discard';

interface AttrError {
  type: number;
  action: Action;
  /** The RFC 4271 §6.3 subcode, used when the error ends up as a session reset. */
  subcode: number;
  reason: string;
}

interface Nlri {
  prefixes: string[];
  error?: string;
}

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function u16(b: Uint8Array, o: number): number {
  return b[o] * 256 + b[o + 1];
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] * 256 + b[o + 1]) * 256 + b[o + 2]) * 256 + b[o + 3];
}

/** IPv4 dotted quad / IPv6 text (RFC 5952: lower case, longest zero run of 2+ groups as "::"). */
function addressText(afi: number, a: Uint8Array): string {
  if (afi === 1) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(a[2 * i] * 256 + a[2 * i + 1]);
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i >= 2 && j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const h = g.map((x) => x.toString(16));
  if (best < 0) return h.join(':');
  return `${h.slice(0, best).join(':')}::${h.slice(best + bestLen).join(':')}`;
}

/**
 * A list of prefixes (RFC 4271 §4.3, RFC 4760 §5; RFC 7911 §3 with a 4-octet Path Identifier
 * first). Trailing bits past the length are irrelevant (RFC 4271 §4.3) and are cleared.
 * Syntactically incorrect (RFC 7606 §5.3): a length over the family's maximum, or a prefix
 * (or path identifier) running past the end of the field.
 */
function parsePrefixes(b: Uint8Array, start: number, end: number, afi: number, addPath: boolean): Nlri {
  const max = afi === 1 ? 32 : 128;
  const out: string[] = [];
  let p = start;
  while (p < end) {
    let id = -1;
    if (addPath) {
      if (p + 4 > end) return { prefixes: out, error: 'path identifier runs past the field' };
      id = u32(b, p);
      p += 4;
    }
    if (p >= end) return { prefixes: out, error: 'prefix length runs past the field' };
    const len = b[p++];
    if (len > max) return { prefixes: out, error: `prefix length ${len} > ${max}` };
    const n = Math.ceil(len / 8);
    if (p + n > end) return { prefixes: out, error: 'prefix runs past the field' };
    const a = new Uint8Array(afi === 1 ? 4 : 16);
    for (let i = 0; i < n; i++) a[i] = b[p + i];
    if (len % 8 !== 0) a[n - 1] &= (0xff << (8 - (len % 8))) & 0xff;
    p += n;
    out.push(`${addressText(afi, a)}/${len}${addPath ? `#${id}` : ''}`);
  }
  return { prefixes: out };
}

interface Segment {
  type: number;
  asns: number[];
}

/**
 * AS_PATH / AS4_PATH segments (RFC 4271 §4.3; RFC 7606 §7.2; RFC 6793 §6). Malformed: an
 * unknown segment type, a zero segment length, a segment overrunning the attribute, or a
 * single octet left over (underrun).
 */
function parseSegments(v: Uint8Array, asSize: number): Segment[] | string {
  const segs: Segment[] = [];
  let p = 0;
  while (p < v.length) {
    if (p + 2 > v.length) return 'underrun: one octet after the last segment';
    const type = v[p];
    const n = v[p + 1];
    // RFC 4271 §4.3 types 1 (AS_SET), 2 (AS_SEQUENCE); RFC 5065 §3 types 3, 4 (confederation).
    if (type < 1 || type > 4) return `unknown segment type ${type}`;
    if (n === 0) return 'segment length 0';
    if (p + 2 + n * asSize > v.length) return 'segment overruns the attribute';
    const asns: number[] = [];
    for (let i = 0; i < n; i++) asns.push(asSize === 4 ? u32(v, p + 2 + i * 4) : u16(v, p + 2 + i * 2));
    segs.push({ type, asns });
    p += 2 + n * asSize;
  }
  return segs;
}

function encodeSegments4(segs: Segment[]): Uint8Array {
  const out: number[] = [];
  for (const s of segs) {
    // A segment holds at most 255 ASes (1-octet length, RFC 4271 §4.3): split longer ones.
    for (let i = 0; i < s.asns.length; i += 255) {
      const part = s.asns.slice(i, i + 255);
      out.push(s.type, part.length);
      for (const a of part) out.push((a >>> 24) & 0xff, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff);
    }
  }
  return Uint8Array.from(out);
}

/** RFC 4271 §9.1.2.2 (a): an AS_SET counts 1; RFC 5065 §5.3: confederation segments count 0. */
function asCount(segs: Segment[]): number {
  let n = 0;
  for (const s of segs) {
    if (s.type === 2) n += s.asns.length;
    else if (s.type === 1) n += 1;
  }
  return n;
}

/**
 * RFC 6793 §4.2.3: the AS path from AS_PATH and AS4_PATH. When AS_PATH counts fewer ASes than
 * AS4_PATH, AS4_PATH is ignored. Otherwise as many ASes and segments as needed are taken from
 * the front of AS_PATH and put before AS4_PATH so the count equals AS_PATH's; a confederation
 * segment is taken when it leads or is adjacent to a taken segment.
 */
function mergeAsPath(asPath: Segment[], as4Path: Segment[]): Segment[] {
  const n2 = asCount(asPath);
  const n4 = asCount(as4Path);
  if (n2 < n4) return asPath;
  let need = n2 - n4;
  const lead: Segment[] = [];
  for (const s of asPath) {
    const confed = s.type === 3 || s.type === 4;
    if (confed) {
      // Every segment before this one was taken, so it is leading or adjacent to a taken one.
      lead.push({ type: s.type, asns: s.asns.slice() });
      continue;
    }
    if (need <= 0) break;
    if (s.type === 2) {
      const take = Math.min(need, s.asns.length);
      lead.push({ type: 2, asns: s.asns.slice(0, take) });
      need -= take;
    } else {
      lead.push({ type: s.type, asns: s.asns.slice() });
      need -= 1;
    }
  }
  return [...lead, ...as4Path];
}

/**
 * Decodes one UPDATE message (19-octet header included) as the RFCs say a receiver handles it.
 */
export function referenceDecode(msg: Uint8Array, ctx: RefContext): RefVerdict {
  const reset = (subcode: number, reason: string): RefReset => ({ kind: 'reset', code: UPDATE_MESSAGE_ERROR, subcode, reason });
  const L = msg.length;
  // RFC 4271 §6.1: an UPDATE shorter than 23 octets is a header error (the framer's job).
  if (L < 23) return { kind: 'reset', code: 1, subcode: 2, reason: 'message shorter than the minimum UPDATE' };

  // RFC 4271 §4.3 layout; §6.3 (kept by RFC 7606 §3(b)): Withdrawn Routes Length + Total
  // Attribute Length + 23 > message length -> Malformed Attribute List.
  const wLen = u16(msg, 19);
  if (wLen + 23 > L) return reset(MALFORMED_ATTRIBUTE_LIST, 'withdrawn routes length overruns the message');
  const aLen = u16(msg, 21 + wLen);
  if (wLen + aLen + 23 > L) return reset(MALFORMED_ATTRIBUTE_LIST, 'total path attribute length overruns the message');
  const wStart = 21;
  const wEnd = 21 + wLen;
  const aStart = wEnd + 2;
  const aEnd = aStart + aLen;
  const nStart = aEnd;
  const nEnd = L;

  const errors: AttrError[] = [];
  const problems: string[] = [];
  const kept: RefAttr[] = [];
  const discarded: number[] = [];
  const seen = new Set<number>();
  let mpReach: { flags: number; afi: number; safi: number; nh: Uint8Array; nlri: Nlri; known: boolean } | undefined;
  let mpUnreach: { afi: number; safi: number; nlri: Nlri; known: boolean } | undefined;
  let sawNonUnreach = false;
  let nextHopError: AttrError | undefined;

  const fail = (type: number, action: Action, subcode: number, reason: string) => {
    errors.push({ type, action, subcode, reason });
    problems.push(`attribute ${type}: ${reason} (${action})`);
  };
  const discard = (type: number, reason: string) => {
    discarded.push(type);
    problems.push(`attribute ${type}: ${reason} (discard)`);
  };
  /** RFC 7606 §3(c): Optional and Transitive bits as the attribute's specification has them. */
  const flagsOk = (flags: number, optional: boolean, transitive: boolean) =>
    (flags & OPTIONAL) === (optional ? OPTIONAL : 0) && (flags & TRANSITIVE) === (transitive ? TRANSITIVE : 0);

  let p = aStart;
  while (p < aEnd) {
    // RFC 7606 §4: fewer than 3 octets left (4 with Extended Length) -> treat-as-withdraw; the
    // Total Attribute Length still locates the NLRI field.
    if (aEnd - p < 3) {
      fail(-1, 'withdraw', MALFORMED_ATTRIBUTE_LIST, 'fewer than 3 octets left for an attribute header');
      break;
    }
    const flags = msg[p];
    const type = msg[p + 1];
    const ext = (flags & EXTENDED_LENGTH) !== 0;
    if (ext && aEnd - p < 4) {
      fail(-1, 'withdraw', MALFORMED_ATTRIBUTE_LIST, 'fewer than 4 octets left for an extended-length header');
      break;
    }
    const len = ext ? u16(msg, p + 2) : msg[p + 2];
    const vStart = p + (ext ? 4 : 3);
    // RFC 7606 §4: the attribute's length overruns the Total Attribute Length.
    if (vStart + len > aEnd) {
      fail(type, 'withdraw', MALFORMED_ATTRIBUTE_LIST, `attribute ${type} length ${len} overruns the path attributes`);
      break;
    }
    const v = msg.subarray(vStart, vStart + len);
    p = vStart + len;
    if (type !== 15) sawNonUnreach = true;

    // RFC 7606 §3(g): a repeated MP_REACH_NLRI / MP_UNREACH_NLRI -> Malformed Attribute List;
    // any other repeat: every occurrence after the first is discarded.
    if (seen.has(type)) {
      if (type === 14 || type === 15) {
        fail(type, 'reset', MALFORMED_ATTRIBUTE_LIST, `attribute ${type} appears more than once`);
        continue;
      }
      discard(type, 'repeated attribute');
      continue;
    }
    seen.add(type);
    const keep = () => kept.push({ flags, type, value: v.slice() });

    switch (type) {
      case 1: // ORIGIN, well-known mandatory (RFC 4271 §5.1.1)
        if (!flagsOk(flags, false, true)) fail(type, 'withdraw', ATTRIBUTE_FLAGS_ERROR, 'flags'); // RFC 7606 §3(c)
        else if (len !== 1) fail(type, 'withdraw', ATTRIBUTE_LENGTH_ERROR, `length ${len}`); // RFC 7606 §7.1
        else if (v[0] > 2) fail(type, 'withdraw', INVALID_ORIGIN, `undefined ORIGIN ${v[0]}`); // RFC 7606 §7.1
        else keep();
        break;
      case 2: { // AS_PATH, well-known mandatory (RFC 4271 §5.1.2)
        if (!flagsOk(flags, false, true)) {
          fail(type, 'withdraw', ATTRIBUTE_FLAGS_ERROR, 'flags'); // RFC 7606 §3(c)
          break;
        }
        // RFC 6793 §4.1: 4-octet ASes when both sides have the capability.
        const segs = parseSegments(v, ctx.asn4 ? 4 : 2);
        if (typeof segs === 'string') fail(type, 'withdraw', MALFORMED_AS_PATH, segs); // RFC 7606 §7.2
        else keep();
        break;
      }
      case 3: // NEXT_HOP, well-known mandatory (RFC 4271 §5.1.3)
        // Judged after the loop: RFC 4760 §3 has a receiver ignore NEXT_HOP in an UPDATE whose
        // only NLRI is in MP_REACH_NLRI.
        if (!flagsOk(flags, false, true)) nextHopError = { type, action: 'withdraw', subcode: ATTRIBUTE_FLAGS_ERROR, reason: 'flags' }; // RFC 7606 §3(c)
        else if (len !== 4) nextHopError = { type, action: 'withdraw', subcode: ATTRIBUTE_LENGTH_ERROR, reason: `length ${len}` }; // RFC 7606 §7.3
        else keep();
        break;
      case 4: // MULTI_EXIT_DISC, optional non-transitive (RFC 4271 §5.1.4)
        if (!flagsOk(flags, true, false)) fail(type, 'withdraw', ATTRIBUTE_FLAGS_ERROR, 'flags'); // RFC 7606 §3(c)
        else if (len !== 4) fail(type, 'withdraw', ATTRIBUTE_LENGTH_ERROR, `length ${len}`); // RFC 7606 §7.4
        else keep();
        break;
      case 5: // LOCAL_PREF, well-known (RFC 4271 §5.1.5)
        if (ctx.ebgp) discard(type, 'LOCAL_PREF from an external peer'); // RFC 7606 §7.5
        else if (!flagsOk(flags, false, true)) fail(type, 'withdraw', ATTRIBUTE_FLAGS_ERROR, 'flags'); // RFC 7606 §3(c)
        else if (len !== 4) fail(type, 'withdraw', ATTRIBUTE_LENGTH_ERROR, `length ${len}`); // RFC 7606 §7.5
        else keep();
        break;
      case 6: // ATOMIC_AGGREGATE, well-known discretionary (RFC 4271 §5.1.6)
        // RFC 7606 §3(f): every session-reset case of ATOMIC_AGGREGATE (flags included) -> discard.
        if (!flagsOk(flags, false, true)) discard(type, 'flags');
        else if (len !== 0) discard(type, `length ${len}`); // RFC 7606 §7.6
        else keep();
        break;
      case 7: // AGGREGATOR, optional transitive (RFC 4271 §5.1.7)
        // RFC 7606 §3(f): every session-reset case of AGGREGATOR (flags included) -> discard.
        if (!flagsOk(flags, true, true)) discard(type, 'flags');
        else if (len !== (ctx.asn4 ? 8 : 6)) discard(type, `length ${len}`); // RFC 7606 §7.7
        else keep();
        break;
      case 8: // COMMUNITIES, optional transitive (RFC 1997)
        if (!flagsOk(flags, true, true)) fail(type, 'withdraw', ATTRIBUTE_FLAGS_ERROR, 'flags'); // RFC 7606 §3(c)
        else if (len === 0 || len % 4 !== 0) fail(type, 'withdraw', ATTRIBUTE_LENGTH_ERROR, `length ${len}`); // RFC 7606 §7.8
        else keep();
        break;
      case 9: // ORIGINATOR_ID, optional non-transitive (RFC 4456 §8)
        if (ctx.ebgp) discard(type, 'ORIGINATOR_ID from an external peer'); // RFC 7606 §7.9
        else if (!flagsOk(flags, true, false)) fail(type, 'withdraw', ATTRIBUTE_FLAGS_ERROR, 'flags'); // RFC 7606 §3(c)
        else if (len !== 4) fail(type, 'withdraw', ATTRIBUTE_LENGTH_ERROR, `length ${len}`); // RFC 7606 §7.9
        else keep();
        break;
      case 10: // CLUSTER_LIST, optional non-transitive (RFC 4456 §8)
        if (ctx.ebgp) discard(type, 'CLUSTER_LIST from an external peer'); // RFC 7606 §7.10
        else if (!flagsOk(flags, true, false)) fail(type, 'withdraw', ATTRIBUTE_FLAGS_ERROR, 'flags'); // RFC 7606 §3(c)
        else if (len === 0 || len % 4 !== 0) fail(type, 'withdraw', ATTRIBUTE_LENGTH_ERROR, `length ${len}`); // RFC 7606 §7.10
        else keep();
        break;
      case 14: { // MP_REACH_NLRI, optional non-transitive (RFC 4760 §3)
        // RFC 7606 §5.3 / §3(j) / §7.11: an incorrect MP_REACH_NLRI -> session reset (or AFI/SAFI
        // disable); RFC 4760 §7: with "Optional Attribute Error". Choice: session reset.
        if (!flagsOk(flags, true, false)) {
          fail(type, 'reset', OPTIONAL_ATTRIBUTE_ERROR, 'MP_REACH_NLRI flags'); // RFC 7606 §5.3
          break;
        }
        if (len < 5) {
          fail(type, 'reset', OPTIONAL_ATTRIBUTE_ERROR, `MP_REACH_NLRI length ${len} < 5`); // RFC 7606 §5.3
          break;
        }
        const afi = u16(v, 0);
        const safi = v[2];
        const nhLen = v[3];
        if (4 + nhLen + 1 > len) {
          fail(type, 'reset', OPTIONAL_ATTRIBUTE_ERROR, 'next hop overruns MP_REACH_NLRI'); // RFC 7606 §7.11
          break;
        }
        // Choice: the NLRI encoding of RFC 4760 §5 is defined for SAFI 1 and 2 only (RFC 4760
        // §3); other AFI/SAFIs are not understood here and their content is not judged.
        const known = (afi === 1 || afi === 2) && (safi === 1 || safi === 2);
        if (known) {
          // RFC 7606 §7.11: the next hop length must be what the AFI expects: IPv4 4 octets
          // (16 or 32 with an IPv6 next hop, RFC 8950, taken as in use); IPv6 16, or 32 with a
          // link-local address (RFC 2545 §3).
          const ok = afi === 1 ? nhLen === 4 || nhLen === 16 || nhLen === 32 : nhLen === 16 || nhLen === 32;
          if (!ok) {
            fail(type, 'reset', OPTIONAL_ATTRIBUTE_ERROR, `next hop length ${nhLen} for AFI ${afi}`);
            break;
          }
        }
        const nlri = known
          ? parsePrefixes(v, 4 + nhLen + 1, len, afi, afi === 1 ? ctx.addPath4 : ctx.addPath6)
          : { prefixes: len > 4 + nhLen + 1 ? ['?'] : [] };
        if (nlri.error) {
          fail(type, 'reset', OPTIONAL_ATTRIBUTE_ERROR, `MP_REACH_NLRI NLRI: ${nlri.error}`); // RFC 7606 §5.3
          break;
        }
        mpReach = { flags, afi, safi, nh: v.slice(4, 4 + nhLen), nlri, known };
        keep();
        break;
      }
      case 15: { // MP_UNREACH_NLRI, optional non-transitive (RFC 4760 §4)
        if (!flagsOk(flags, true, false)) {
          fail(type, 'reset', OPTIONAL_ATTRIBUTE_ERROR, 'MP_UNREACH_NLRI flags'); // RFC 7606 §5.3
          break;
        }
        if (len < 3) {
          fail(type, 'reset', OPTIONAL_ATTRIBUTE_ERROR, `MP_UNREACH_NLRI length ${len} < 3`); // RFC 7606 §5.3
          break;
        }
        const afi = u16(v, 0);
        const safi = v[2];
        const known = (afi === 1 || afi === 2) && (safi === 1 || safi === 2);
        const nlri = known ? parsePrefixes(v, 3, len, afi, afi === 1 ? ctx.addPath4 : ctx.addPath6) : { prefixes: [] };
        if (nlri.error) {
          fail(type, 'reset', OPTIONAL_ATTRIBUTE_ERROR, `MP_UNREACH_NLRI NLRI: ${nlri.error}`); // RFC 7606 §5.3
          break;
        }
        mpUnreach = { afi, safi, nlri, known };
        keep();
        break;
      }
      case 16: // EXTENDED COMMUNITIES, optional transitive (RFC 4360 §2)
        if (!flagsOk(flags, true, true)) fail(type, 'withdraw', ATTRIBUTE_FLAGS_ERROR, 'flags'); // RFC 7606 §3(c)
        else if (len === 0 || len % 8 !== 0) fail(type, 'withdraw', ATTRIBUTE_LENGTH_ERROR, `length ${len}`); // RFC 7606 §7.14
        else keep();
        break;
      case 17: { // AS4_PATH, optional transitive (RFC 6793 §3)
        // RFC 6793 §4.1 / §6: from a NEW speaker it is discarded.
        if (ctx.asn4) {
          discard(type, 'AS4_PATH from a 4-octet-AS peer');
          break;
        }
        // Choice: a flags conflict is a malformation, handled as RFC 6793 §6 handles those.
        if (!flagsOk(flags, true, true)) {
          discard(type, 'flags');
          break;
        }
        // RFC 6793 §6: malformed if the length is odd or below 6, a segment length is zero or
        // inconsistent, or a segment type unknown -> attribute discard.
        if (len % 2 !== 0 || len < 6) {
          discard(type, `length ${len}`);
          break;
        }
        const segs = parseSegments(v, 4);
        if (typeof segs === 'string') {
          discard(type, segs);
          break;
        }
        // RFC 6793 §6: AS_CONFED_SEQUENCE / AS_CONFED_SET segments in AS4_PATH are discarded and
        // the attribute adjusted.
        const clean = segs.filter((s) => s.type === 1 || s.type === 2);
        kept.push({ flags, type, value: clean.length === segs.length ? v.slice() : encodeSegments4(clean) });
        break;
      }
      case 18: // AS4_AGGREGATOR, optional transitive (RFC 6793 §3)
        if (ctx.asn4) discard(type, 'AS4_AGGREGATOR from a 4-octet-AS peer'); // RFC 6793 §4.1 / §6
        else if (!flagsOk(flags, true, true)) discard(type, 'flags'); // Choice, as for AS4_PATH
        else if (len !== 8) discard(type, `length ${len}`); // RFC 6793 §6
        else keep();
        break;
      case 32: // LARGE_COMMUNITY, optional transitive (RFC 8092 §3)
        if (!flagsOk(flags, true, true)) fail(type, 'withdraw', ATTRIBUTE_FLAGS_ERROR, 'flags'); // RFC 7606 §3(c)
        else if (len === 0 || len % 12 !== 0) fail(type, 'withdraw', ATTRIBUTE_LENGTH_ERROR, `length ${len}`); // RFC 8092 §6
        else keep();
        break;
      case 35: // OTC, optional transitive (RFC 9234 §5)
        if (!flagsOk(flags, true, true)) fail(type, 'withdraw', ATTRIBUTE_FLAGS_ERROR, 'flags'); // RFC 7606 §3(c)
        else if (len !== 4) fail(type, 'withdraw', ATTRIBUTE_LENGTH_ERROR, `length ${len}`); // RFC 9234 §5
        else keep();
        break;
      default:
        // RFC 4271 §6.3: an unrecognized well-known attribute (Optional bit clear) ->
        // Unrecognized Well-known Attribute; RFC 7606 does not revise this case.
        if ((flags & OPTIONAL) === 0) {
          fail(type, 'reset', UNRECOGNIZED_WELL_KNOWN, `unrecognized well-known attribute ${type}`);
          break;
        }
        // RFC 4271 §5: an unrecognized optional attribute is accepted (and passed on when
        // transitive, with Partial set: that happens on export, not here).
        keep();
    }
  }

  // Withdrawn Routes (RFC 7606 §3(i)) and NLRI (RFC 4271 §6.3) syntax, RFC 7606 §5.3.
  const withdrawnField = parsePrefixes(msg, wStart, wEnd, 1, ctx.addPath4);
  const nlriField = parsePrefixes(msg, nStart, nEnd, 1, ctx.addPath4);

  // NEXT_HOP in an UPDATE whose only NLRI is in MP_REACH_NLRI: ignored (RFC 4760 §3).
  const mpOnly = mpReach !== undefined && nlriField.prefixes.length === 0 && !nlriField.error;
  if (nextHopError && !mpOnly) {
    errors.push(nextHopError);
    problems.push(`attribute 3: ${nextHopError.reason} (withdraw)`);
  }

  // RFC 7606 §3(h): the strongest action wins. Among session resets, the order of RFC 4271
  // §6.3: path attributes first (in the order met), then the network fields.
  const firstReset = errors.find((e) => e.action === 'reset');
  if (firstReset) return reset(firstReset.subcode, firstReset.reason);
  if (withdrawnField.error) return reset(INVALID_NETWORK_FIELD, `withdrawn routes: ${withdrawnField.error}`);
  if (nlriField.error) return reset(INVALID_NETWORK_FIELD, `NLRI: ${nlriField.error}`);

  const reachable = nlriField.prefixes.length > 0 || (mpReach !== undefined && mpReach.nlri.prefixes.length > 0);

  // RFC 7606 §5.2: path attributes other than MP_UNREACH_NLRI, no reachable NLRI, and an error
  // whose approach is not "attribute discard" -> session reset (with the RFC 4271 subcode).
  const firstWithdraw = errors.find((e) => e.action === 'withdraw');
  if (!reachable && sawNonUnreach && firstWithdraw) {
    return reset(firstWithdraw.subcode, `no reachable NLRI and ${firstWithdraw.reason} (RFC 7606 §5.2)`);
  }

  let treatAsWithdraw = firstWithdraw !== undefined;
  if (reachable && !treatAsWithdraw) {
    // RFC 7606 §3(d): a missing well-known mandatory attribute -> treat-as-withdraw. Mandatory
    // (RFC 4271 §5 table): ORIGIN, AS_PATH, NEXT_HOP; RFC 4760 §3 (and RFC 7606 §3(d)'s note):
    // NEXT_HOP only when the NLRI field is used. Choice: LOCAL_PREF, "required" on IBGP in the
    // same table and a MUST there in RFC 4760 §3, counts as mandatory on an internal session.
    const required = [1, 2];
    if (nlriField.prefixes.length > 0) required.push(3);
    if (!ctx.ebgp) required.push(5);
    for (const t of required) {
      if (!seen.has(t)) {
        treatAsWithdraw = true;
        problems.push(`missing well-known mandatory attribute ${t}`);
      }
    }
  }

  const unicast = (m?: { afi: number; safi: number; known: boolean }) => !!m && m.known && m.safi === 1;
  const withdrawn = [...withdrawnField.prefixes, ...(unicast(mpUnreach) ? mpUnreach!.nlri.prefixes : [])];
  const announcedClassic = nlriField.prefixes;
  const announced = [...announcedClassic, ...(unicast(mpReach) ? mpReach!.nlri.prefixes : [])];

  const attrs: Record<number, string> = {};
  for (const a of kept) attrs[a.type] = hex(a.value);

  return {
    kind: 'ok',
    withdrawn,
    announced,
    announcedClassic,
    treatAsWithdraw,
    discarded,
    kept,
    attrs,
    storedClassic: stored(kept, ctx, null),
    storedMp: mpReach && unicast(mpReach) ? stored(kept, ctx, mpReach) : [],
    problems,
  };
}

/**
 * The attributes a route keeps in the RIB: 4-octet AS numbers (RFC 6793 §4.2.3 merge for a
 * 2-octet peer, AS4_PATH / AS4_AGGREGATOR gone afterwards), no MP_REACH_NLRI / MP_UNREACH_NLRI
 * NLRI; a route from MP_REACH_NLRI keeps its next hop as an MP_REACH_NLRI without NLRI and
 * no NEXT_HOP (RFC 4760 §3). This is the normalized form the harness compares stored bytes with.
 */
function stored(kept: RefAttr[], ctx: RefContext, mp: { flags: number; afi: number; safi: number; nh: Uint8Array } | null): RefAttr[] {
  const find = (t: number) => kept.find((a) => a.type === t);
  const asPathAttr = find(2);
  const as4PathAttr = find(17);
  const aggAttr = find(7);
  const as4AggAttr = find(18);
  let path: Segment[] | undefined;
  if (asPathAttr) {
    const s = parseSegments(asPathAttr.value, ctx.asn4 ? 4 : 2);
    if (typeof s !== 'string') path = s;
  }
  let agg: { asn: number; addr: Uint8Array } | undefined;
  if (aggAttr) {
    const v = aggAttr.value;
    agg = ctx.asn4 ? { asn: u32(v, 0), addr: v.slice(4, 8) } : { asn: u16(v, 0), addr: v.slice(2, 6) };
  }
  if (!ctx.asn4) {
    // RFC 6793 §4.2.3: an AGGREGATOR whose AS is not AS_TRANS, received together with
    // AS4_AGGREGATOR, voids AS4_AGGREGATOR and AS4_PATH.
    const voided = aggAttr !== undefined && as4AggAttr !== undefined && agg!.asn !== AS_TRANS;
    if (!voided) {
      if (aggAttr && as4AggAttr) agg = { asn: u32(as4AggAttr.value, 0), addr: as4AggAttr.value.slice(4, 8) };
      if (path && as4PathAttr) {
        const s4 = parseSegments(as4PathAttr.value, 4);
        if (typeof s4 !== 'string') path = mergeAsPath(path, s4);
      }
    }
  }
  const out: RefAttr[] = [];
  for (const a of kept) {
    if (a.type === 14 || a.type === 15 || a.type === 17 || a.type === 18) continue;
    if (mp && a.type === 3) continue;
    if (a.type === 2 && path) out.push({ flags: a.flags, type: 2, value: encodeSegments4(path) });
    else if (a.type === 7 && agg) {
      const v = new Uint8Array(8);
      v[0] = (agg.asn >>> 24) & 0xff;
      v[1] = (agg.asn >>> 16) & 0xff;
      v[2] = (agg.asn >>> 8) & 0xff;
      v[3] = agg.asn & 0xff;
      v.set(agg.addr, 4);
      out.push({ flags: a.flags, type: 7, value: v });
    } else out.push({ flags: a.flags, type: a.type, value: a.value });
  }
  if (mp) {
    // RFC 4760 §3 layout, reserved octet 0, no NLRI.
    const v = new Uint8Array(5 + mp.nh.length);
    v[0] = mp.afi >> 8;
    v[1] = mp.afi & 0xff;
    v[2] = mp.safi;
    v[3] = mp.nh.length;
    v.set(mp.nh, 4);
    out.push({ flags: mp.flags, type: 14, value: v });
  }
  return out;
}
