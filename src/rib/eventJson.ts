// The common UPDATE event as JSON written straight from the message's bytes into bytes: a clean
// UPDATE (RFC 7606 finds nothing) on a 4-octet-AS session, unicast families. No strings or
// objects between the message and the text (one growing byte buffer per worker, reused batch
// after batch), so watching the feed costs the workers little and leaves their heap alone.
// Everything else (treat-as-withdraw, discarded attributes, AS4_PATH merging, other families)
// is refused and takes the codec's way (events.ts updateEvent); both give the same text.

import { checkAttributes, BlockVerdict, type AttrContext } from '../packet/attr/validate.js';
import { AttrWalker } from '../packet/attr/walk.js';
import { AsPathSegmentType, AttrType } from '../packet/constants.js';
import { formatPrefix, ipv6FromBytes } from '../packet/address.js';
import { PrefixWalker } from '../packet/nlri.js';

const verdict = new BlockVerdict();
const attrs = new AttrWalker();
const prefixes = new PrefixWalker();
const v6 = new Uint8Array(16);

const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const ORIGINS = ['IGP', 'EGP', 'INCOMPLETE'].map((o) => ascii(`,"origin":"${o}"`));
const L = {
  timestamp: ascii('{"timestamp":'),
  path: ascii(',"path":['),
  med: ascii(',"med":'),
  localPref: ascii(',"local_pref":'),
  atomic: ascii(',"atomic_aggregate":true'),
  aggregator: ascii(',"aggregator":"'),
  community: ascii(',"community":['),
  extended: ascii(',"extended_community":['),
  large: ascii(',"large_community":['),
  otc: ascii(',"otc":'),
  announcements: ascii(',"announcements":['),
  nextHop: ascii('{"next_hop":"'),
  prefixes: ascii('","prefixes":['),
  pathId: ascii('],"path_id":['),
  withdrawals: ascii(',"withdrawals":['),
  withdrawalIds: ascii('],"withdrawal_path_ids":['),
  raw: ascii(',"raw":"'),
};
const HEX_LOWER = ascii('0123456789abcdef');
const HEX_UPPER = ascii('0123456789ABCDEF');
const QUOTE = 0x22;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const DOT = 0x2e;

/**
 * JSON text as bytes, appended to one buffer that grows and is reused. Room is made once per
 * UPDATE for the most its event can take (reserve), so the writes themselves check nothing.
 */
export class JsonBytes {
  buf = new Uint8Array(1 << 16);
  len = 0;

  /** Room for n more bytes. */
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(c: number): void {
    this.buf[this.len++] = c;
  }

  bytes(s: Uint8Array): void {
    const b = this.buf;
    let n = this.len;
    for (let i = 0; i < s.length; i++) b[n++] = s[i];
    this.len = n;
  }

  /** An ASCII string (texts made elsewhere: IPv6 addresses, the timestamp). */
  text(s: string): void {
    const b = this.buf;
    let n = this.len;
    for (let i = 0; i < s.length; i++) b[n++] = s.charCodeAt(i);
    this.len = n;
  }

  /** A non-negative integer below 2^32 in decimal. */
  uint(v: number): void {
    const b = this.buf;
    let n = this.len;
    if (v < 10) {
      b[n] = 48 + v;
      this.len = n + 1;
      return;
    }
    n += v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : v < 1000000 ? 6 : v < 10000000 ? 7 : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
    this.len = n;
    while (v >= 10) {
      const q = (v / 10) >>> 0;
      b[--n] = 48 + v - q * 10;
      v = q;
    }
    b[n - 1] = 48 + v;
  }

  /** b[o..o+4) as a dotted quad. */
  ipv4(m: Uint8Array, o: number): void {
    this.octet(m[o]);
    this.buf[this.len++] = DOT;
    this.octet(m[o + 1]);
    this.buf[this.len++] = DOT;
    this.octet(m[o + 2]);
    this.buf[this.len++] = DOT;
    this.octet(m[o + 3]);
  }

  octet(v: number): void {
    const b = this.buf;
    if (v >= 100) {
      const h = (v / 100) | 0;
      const t = ((v - h * 100) / 10) | 0;
      b[this.len++] = 48 + h;
      b[this.len++] = 48 + t;
      b[this.len++] = 48 + v - h * 100 - t * 10;
    } else if (v >= 10) {
      const t = (v / 10) | 0;
      b[this.len++] = 48 + t;
      b[this.len++] = 48 + v - t * 10;
    } else b[this.len++] = 48 + v;
  }

  hex(m: Uint8Array, start: number, end: number, digits: Uint8Array): void {
    const b = this.buf;
    let n = this.len;
    for (let i = start; i < end; i++) {
      b[n++] = digits[m[i] >> 4];
      b[n++] = digits[m[i] & 15];
    }
    this.len = n;
  }

  /** The bytes written so far, copied (a buffer of their own, to transfer); the writer starts again. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.len);
    this.len = 0;
    return out;
  }
}

/** One family's prefixes at m[start, end), counted; -1 when one is malformed. */
function countPrefixes(m: Uint8Array, start: number, end: number, afi: number, addPath: boolean): number {
  const w = prefixes.reset(m, start, end, afi, addPath);
  let n = 0;
  while (w.next()) n++;
  return w.error === null ? n : -1;
}

/** Well-formed prefixes (counted before) as JSON strings, a comma before each but the first when `first`. */
function writePrefixes(out: JsonBytes, m: Uint8Array, start: number, end: number, afi: number, addPath: boolean, first: boolean): void {
  const w = prefixes.reset(m, start, end, afi, addPath);
  while (w.next()) {
    if (!first) out.byte(COMMA);
    first = false;
    out.byte(QUOTE);
    const n = (w.length + 7) >> 3;
    const a = w.at;
    if (afi === 1) {
      out.octet(n > 0 ? m[a] : 0);
      out.byte(DOT);
      out.octet(n > 1 ? m[a + 1] : 0);
      out.byte(DOT);
      out.octet(n > 2 ? m[a + 2] : 0);
      out.byte(DOT);
      out.octet(n > 3 ? m[a + 3] : 0);
      out.byte(0x2f);
      out.uint(w.length);
    } else {
      v6.fill(0);
      v6.set(m.subarray(a, a + n));
      out.text(formatPrefix(2, v6, w.length));
    }
    out.byte(QUOTE);
  }
}

/** Their path identifiers (0 for a family without ADD-PATH), as writePrefixes lists them. */
function writeIds(out: JsonBytes, m: Uint8Array, start: number, end: number, afi: number, addPath: boolean, first: boolean): void {
  const w = prefixes.reset(m, start, end, afi, addPath);
  while (w.next()) {
    if (!first) out.byte(COMMA);
    first = false;
    out.uint(addPath ? w.pathId : 0);
  }
}

/** A next hop: IPv4 at m[o], or MP_REACH_NLRI's IPv6 (a second, link-local one after a comma). */
function writeHop(out: JsonBytes, m: Uint8Array, o: number, afi: number, length: number): void {
  if (afi === 1) out.ipv4(m, o);
  else {
    out.text(ipv6FromBytes(m, o));
    if (length === 32) {
      out.byte(COMMA);
      out.text(ipv6FromBytes(m, o + 16));
    }
  }
}

/**
 * Writes the event of the UPDATE `msg` (header included) as one JSON text, `timestamp` as its
 * first field's text and, with `raw`, the message in uppercase hex as the last field; returns
 * where `,"raw":` starts (the closing brace's offset without raw), or -1 having written nothing
 * when the codec must decode it.
 */
export function writeUpdateEvent(out: JsonBytes, msg: Uint8Array, ctx: AttrContext, timestamp: Uint8Array, raw: boolean): number {
  if (!ctx.asn4 || msg.length < 23) return -1;
  const wEnd = 21 + ((msg[19] << 8) | msg[20]);
  const aStart = wEnd + 2;
  if (aStart > msg.length) return -1;
  const aEnd = aStart + ((msg[wEnd] << 8) | msg[wEnd + 1]);
  if (aEnd > msg.length) return -1;
  const v = checkAttributes(msg, aStart, aEnd, ctx, aEnd < msg.length, verdict);
  if (v.verdict !== 0 || v.drop.length > 0) return -1;
  const add4 = !!ctx.addPath?.ipv4;
  const add6 = !!ctx.addPath?.ipv6;
  const withIds = add4 || add6;
  // The prefix fields first: anything malformed there, and nothing is written.
  const gone4 = countPrefixes(msg, 21, wEnd, 1, add4);
  const nlri = countPrefixes(msg, aEnd, msg.length, 1, add4);
  if (gone4 < 0 || nlri < 0) return -1;
  let hopAt = -1;
  let reachAt = -1;
  let reachEnd = 0;
  let reachAfi = 0;
  let reachHopLen = 0;
  let reach = 0;
  let unreachAt = -1;
  let unreachEnd = 0;
  let unreachAfi = 0;
  let gone6 = 0;
  let w = attrs.reset(msg, aStart, aEnd);
  while (w.next()) {
    const p = w.value;
    if (w.type === AttrType.NEXT_HOP) hopAt = p;
    else if (w.type === AttrType.MP_REACH_NLRI) {
      const afi = (msg[p] << 8) | msg[p + 1];
      const nhl = msg[p + 3];
      if (msg[p + 2] !== 1 || !((afi === 1 && nhl === 4) || (afi === 2 && (nhl === 16 || nhl === 32)))) return -1;
      reachAfi = afi;
      reachHopLen = nhl;
      reachAt = p + 5 + nhl;
      reachEnd = p + w.length;
      reach = countPrefixes(msg, reachAt, reachEnd, afi, afi === 1 ? add4 : add6);
      if (reach < 0) return -1;
    } else if (w.type === AttrType.MP_UNREACH_NLRI) {
      const afi = (msg[p] << 8) | msg[p + 1];
      if (msg[p + 2] !== 1 || (afi !== 1 && afi !== 2)) return -1;
      unreachAfi = afi;
      unreachAt = p + 3;
      unreachEnd = p + w.length;
      gone6 = countPrefixes(msg, unreachAt, unreachEnd, afi, afi === 1 ? add4 : add6);
      if (gone6 < 0) return -1;
    }
  }
  // The most this event takes: each byte of the message at most 12 characters (a 1-byte prefix
  // "255.0.0.0/8" and its separators; with ADD-PATH an identifier too), the raw hex twice over.
  out.reserve(msg.length * (raw ? 18 : 16) + timestamp.length + 512);
  out.bytes(L.timestamp);
  out.bytes(timestamp);
  w = attrs.reset(msg, aStart, aEnd);
  while (w.next()) {
    const p = w.value;
    const len = w.length;
    switch (w.type) {
      case AttrType.ORIGIN:
        out.bytes(ORIGINS[msg[p]]);
        break;
      case AttrType.AS_PATH: {
        out.bytes(L.path);
        let first = true;
        for (let o = p; o + 2 <= p + len; ) {
          const type = msg[o];
          const n = msg[o + 1];
          const set = type === AsPathSegmentType.AS_SET || type === AsPathSegmentType.AS_CONFED_SET;
          if (set || n > 0) {
            if (!first) out.byte(COMMA);
            first = false;
          }
          if (set) out.byte(OPEN);
          for (let i = 0; i < n; i++) {
            if (i > 0) out.byte(COMMA);
            out.uint(u32(msg, o + 2 + i * 4));
          }
          if (set) out.byte(CLOSE);
          o += 2 + n * 4;
        }
        out.byte(CLOSE);
        break;
      }
      case AttrType.MULTI_EXIT_DISC:
        out.bytes(L.med);
        out.uint(u32(msg, p));
        break;
      case AttrType.LOCAL_PREF:
        out.bytes(L.localPref);
        out.uint(u32(msg, p));
        break;
      case AttrType.ATOMIC_AGGREGATE:
        out.bytes(L.atomic);
        break;
      case AttrType.AGGREGATOR:
        out.bytes(L.aggregator);
        out.uint(u32(msg, p));
        out.byte(0x3a);
        out.ipv4(msg, p + 4);
        out.byte(QUOTE);
        break;
      case AttrType.COMMUNITIES:
        out.bytes(L.community);
        for (let o = p; o < p + len; o += 4) {
          if (o > p) out.byte(COMMA);
          out.byte(OPEN);
          out.uint((msg[o] << 8) | msg[o + 1]);
          out.byte(COMMA);
          out.uint((msg[o + 2] << 8) | msg[o + 3]);
          out.byte(CLOSE);
        }
        out.byte(CLOSE);
        break;
      case AttrType.EXTENDED_COMMUNITIES:
        out.bytes(L.extended);
        for (let o = p; o < p + len; o += 8) {
          if (o > p) out.byte(COMMA);
          out.byte(QUOTE);
          out.hex(msg, o, o + 8, HEX_LOWER);
          out.byte(QUOTE);
        }
        out.byte(CLOSE);
        break;
      case AttrType.LARGE_COMMUNITY:
        out.bytes(L.large);
        for (let o = p; o < p + len; o += 12) {
          if (o > p) out.byte(COMMA);
          out.byte(OPEN);
          out.uint(u32(msg, o));
          out.byte(COMMA);
          out.uint(u32(msg, o + 4));
          out.byte(COMMA);
          out.uint(u32(msg, o + 8));
          out.byte(CLOSE);
        }
        out.byte(CLOSE);
        break;
      case AttrType.OTC:
        out.bytes(L.otc);
        out.uint(u32(msg, p));
        break;
    }
  }
  // Announcements: the IPv4 NLRI field with NEXT_HOP, then MP_REACH_NLRI's with its own; one
  // entry when both name the same next hop.
  const nlriAdd = add4;
  const reachAdd = reachAfi === 1 ? add4 : add6;
  const sameHop = nlri > 0 && reach > 0 && reachAfi === 1 && hopAt >= 0 && reachHopLen === 4 && u32(msg, hopAt) === u32(msg, reachAt - 5);
  if (nlri > 0 || reach > 0) {
    out.bytes(L.announcements);
    if (nlri > 0) {
      out.bytes(L.nextHop);
      if (hopAt >= 0) out.ipv4(msg, hopAt);
      out.bytes(L.prefixes);
      writePrefixes(out, msg, aEnd, msg.length, 1, nlriAdd, true);
      if (sameHop) writePrefixes(out, msg, reachAt, reachEnd, reachAfi, reachAdd, false);
      if (withIds) {
        out.bytes(L.pathId);
        writeIds(out, msg, aEnd, msg.length, 1, nlriAdd, true);
        if (sameHop) writeIds(out, msg, reachAt, reachEnd, reachAfi, reachAdd, false);
      }
      out.byte(CLOSE);
      out.byte(0x7d);
    }
    if (reach > 0 && !sameHop) {
      if (nlri > 0) out.byte(COMMA);
      out.bytes(L.nextHop);
      writeHop(out, msg, reachAt - 1 - reachHopLen, reachAfi, reachHopLen);
      out.bytes(L.prefixes);
      writePrefixes(out, msg, reachAt, reachEnd, reachAfi, reachAdd, true);
      if (withIds) {
        out.bytes(L.pathId);
        writeIds(out, msg, reachAt, reachEnd, reachAfi, reachAdd, true);
      }
      out.byte(CLOSE);
      out.byte(0x7d);
    }
    out.byte(CLOSE);
  }
  // Withdrawals: the Withdrawn Routes field, then MP_UNREACH_NLRI's.
  if (gone4 + gone6 > 0) {
    const unreachAdd = unreachAfi === 1 ? add4 : add6;
    out.bytes(L.withdrawals);
    writePrefixes(out, msg, 21, wEnd, 1, add4, true);
    if (gone6 > 0) writePrefixes(out, msg, unreachAt, unreachEnd, unreachAfi, unreachAdd, gone4 === 0);
    if (withIds) {
      out.bytes(L.withdrawalIds);
      writeIds(out, msg, 21, wEnd, 1, add4, true);
      if (gone6 > 0) writeIds(out, msg, unreachAt, unreachEnd, unreachAfi, unreachAdd, gone4 === 0);
    }
    out.byte(CLOSE);
  }
  const rawAt = out.len;
  if (raw) {
    out.bytes(L.raw);
    out.hex(msg, 0, msg.length, HEX_UPPER);
    out.byte(QUOTE);
  }
  out.byte(0x7d);
  return rawAt;
}

const single = new JsonBytes();

/**
 * The event of the UPDATE `msg` (header included) as JSON text, or null when the codec must
 * decode it (writeUpdateEvent, one text at a time).
 */
export function updateEventJson(msg: Uint8Array, ctx: AttrContext, timestamp: number, raw: boolean): string | null {
  single.len = 0;
  if (writeUpdateEvent(single, msg, ctx, ascii(String(timestamp)), raw) < 0) return null;
  return Buffer.from(single.take()).toString('latin1');
}
