// Received UPDATEs as events in RIPE RIS Live's shape, for whoever watches the feed. Made in
// the workers (straight from the bytes, eventJson.ts, or from the codec's decoding) only for
// batches submitted while someone watches; a batch's events travel back as JSON texts, one per
// line, in one string beside its result.

import {
  AsPathSegmentType,
  AttrType,
  decodeAttribute,
  decodeUpdate,
  endOfRibFamily,
  mergeAs4,
  type CodecContext,
  type PathAttribute,
  type Prefix,
  type UnknownAttribute,
} from '../packet/index.js';
import { AttrWalker } from '../packet/attr/walk.js';
import { JsonBytes, writeUpdateEvent } from './eventJson.js';

/** The attributes the codec decodes into fields (narrowed by `type`). */
type Known = Exclude<PathAttribute, UnknownAttribute>;

/** 'off': no events (the default); 'decoded': the fields below; 'raw': those and the message in hex. */
export type UpdateEventMode = 'off' | 'decoded' | 'raw';

/**
 * One received UPDATE as RIS Live's `ris_message.data` of type UPDATE describes it (without the
 * envelope fields: peer, host, id and type are the management plane's). What the peer sent,
 * before any import policy. A treat-as-withdraw UPDATE (RFC 7606) has `withdrawals` only.
 */
export interface UpdateEvent {
  /** Float seconds since the epoch when the batch was handed to the pipeline. */
  timestamp: number;
  /**
   * AS_PATH as received (AS4_PATH merged back on a 2-octet session, RFC 6793): sequences inline,
   * each AS_SET or AS_CONFED_SET a nested array. Absent without an AS_PATH (a pure withdrawal).
   */
  path?: (number | number[])[];
  origin?: 'IGP' | 'EGP' | 'INCOMPLETE';
  med?: number;
  local_pref?: number;
  /** [asn, value] pairs. */
  community?: [number, number][];
  large_community?: [number, number, number][];
  /** Each community as 16 lowercase hex digits. */
  extended_community?: string[];
  /** "ASN:a.b.c.d" (AS4_AGGREGATOR merged back on a 2-octet session). */
  aggregator?: string;
  otc?: number;
  atomic_aggregate?: true;
  /**
   * One entry per next hop: the IPv4 NLRI with NEXT_HOP, MP_REACH_NLRI's prefixes with its own
   * (a link-local second next hop joined with a comma, "global,linklocal", as RIS Live prints it).
   */
  announcements?: UpdateAnnouncement[];
  /** IPv4 withdrawn routes, then MP_UNREACH_NLRI's. */
  withdrawals?: string[];
  /**
   * ADD-PATH (RFC 7911), when the session receives path identifiers for IPv4 or IPv6 unicast:
   * the withdrawals' identifiers, parallel to `withdrawals` (0 for a family without ADD-PATH:
   * the identifier the RIB keeps its paths under).
   */
  withdrawal_path_ids?: number[];
  /** The whole BGP message, header included, in uppercase hex: mode 'raw' only. */
  raw?: string;
}

export interface UpdateAnnouncement {
  next_hop: string;
  prefixes: string[];
  /** ADD-PATH: as `withdrawal_path_ids`, parallel to `prefixes`. */
  path_id?: number[];
}

/** What a batch's task carries when someone watches: absent when the mode is 'off'. */
export interface UpdateWatch {
  raw: boolean;
  /** The main thread's Date.now() / 1000 when the batch was submitted. */
  time: number;
}

const ORIGINS = ['IGP', 'EGP', 'INCOMPLETE'] as const;

/**
 * A batch's events as they travel from the events' thread: JSON texts, one per line, as ASCII
 * bytes, and where each line ends and where its `raw` field starts (both buffers transferred,
 * not copied). With an envelope (EventEnvelope), each line is the whole RIS Live message.
 */
export interface EncodedEvents {
  bytes: Uint8Array;
  /** Per line: the offset just past its body (its closing brace), and where `,"raw":` starts (that brace's offset without raw). */
  index: Uint32Array;
  /** The envelope's bytes in front of each body (0: none); its id's digits start `before` bytes into the line. */
  envelope?: { head: number; before: number };
}

/**
 * A stream's envelope around each event (api/stream.ts): `before` up to the message id's
 * digits, ID_DIGITS zeros for them (the stream writes the id as it sends the batch), `after` up
 * to the body's first field; the body's opening brace becomes a comma and one more closing
 * brace ends the message.
 */
export interface EventEnvelope {
  before: string;
  after: string;
}

/** The message id's digits in an envelope: lowercase hex, zero-padded. */
export const ID_DIGITS = 12;

/** The thread's buffer for a batch's events (grows once to the largest batch, then reused). */
const out = new JsonBytes();
let ends = new Uint32Array(1024);

/**
 * The events of the first `count` UPDATEs at `descriptors` (offset, length pairs) in `bytes`
 * (those the batch received), as JSON texts, one per line, each in `envelope` when given, or
 * undefined when there are none. End-of-RIB markers make no event.
 */
export function encodeUpdateEvents(bytes: Uint8Array, descriptors: Uint32Array, count: number, ctx: CodecContext, watch: UpdateWatch, envelope?: EventEnvelope): EncodedEvents | undefined {
  out.len = 0;
  if (ends.length < count * 2) ends = new Uint32Array(count * 2);
  const time = Buffer.from(String(watch.time), 'latin1');
  const before = envelope && Buffer.from(envelope.before, 'utf8');
  const head = envelope && Buffer.concat([before!, Buffer.alloc(ID_DIGITS, 0x30), Buffer.from(envelope.after, 'utf8')]);
  let lines = 0;
  for (let i = 0; i < count * 2; i += 2) {
    const msg = bytes.subarray(descriptors[i], descriptors[i + 1] + descriptors[i]);
    if (endOfRibFamily(msg)) continue;
    const lineAt = out.len;
    out.reserve(1 + (head?.length ?? 0));
    if (lines > 0) out.byte(0x0a);
    if (head) out.bytes(head);
    const start = out.len;
    let rawAt = writeUpdateEvent(out, msg, ctx, time, watch.raw);
    if (rawAt < 0) {
      const text = eventText(msg, ctx, watch);
      if (text === null) {
        out.len = lineAt;
        continue;
      }
      // The codec's text is ASCII too (addresses, numbers, hex); raw, when there, is last.
      out.reserve(text.length);
      out.text(text);
      const q = watch.raw ? text.lastIndexOf(',"raw":"') : -1;
      rawAt = q >= 0 ? start + q : out.len - 1;
    }
    ends[lines * 2] = out.len;
    ends[lines * 2 + 1] = rawAt;
    if (head) {
      // In the envelope: the body's fields follow the envelope's, and the message is closed.
      out.buf[start] = 0x2c;
      out.reserve(1);
      out.byte(0x7d);
    }
    lines++;
  }
  if (lines === 0) return undefined;
  const events: EncodedEvents = { bytes: out.take(), index: ends.slice(0, lines * 2) };
  if (head) events.envelope = { head: head.length, before: before!.length };
  return events;
}
/** The codec's way to an event's text (what eventJson.ts leaves to it). */
export function eventText(msg: Uint8Array, ctx: CodecContext, watch: UpdateWatch): string | null {
  let event: UpdateEvent;
  try {
    event = updateEvent(msg, ctx, watch.time);
  } catch {
    // The codec and the workers' checks agree (npm run fuzz holds them to it): should they
    // not, that UPDATE makes no event rather than the rest of the batch none.
    return null;
  }
  if (watch.raw) event.raw = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength).toString('hex').toUpperCase();
  return JSON.stringify(event);
}

/**
 * A batch's events on the main thread: one JSON text per UPDATE (a RIS Live `data` object
 * without the envelope's fields, `raw` last) in `bytes`, read as text or parsed only when asked;
 * with `envelope`, each line is the whole message, the body after the envelope's fields.
 */
export class UpdateEventBatch {
  readonly bytes: Uint8Array;
  readonly index: Uint32Array;
  /** The envelope written around each body, its length and where its id's digits are (EncodedEvents). */
  readonly envelope?: { head: number; before: number };
  private texts?: string[];
  private parsed: Array<UpdateEvent | undefined>;

  constructor(
    events: EncodedEvents,
    /** Who sent the UPDATEs, as the pipeline's tag said when their batch was applied (RibPipeline.tagUpdates). */
    readonly tag?: unknown,
  ) {
    this.bytes = events.bytes;
    this.index = events.index;
    this.envelope = events.envelope;
    this.parsed = new Array(this.length);
  }

  get length(): number {
    return this.index.length >> 1;
  }

  /** Where line i starts (its envelope, when there is one). */
  lineStart(i: number): number {
    return i === 0 ? 0 : this.lineEnd(i - 1) + 1;
  }

  /** Just past line i. */
  lineEnd(i: number): number {
    return this.index[i * 2] + (this.envelope ? 1 : 0);
  }

  /** Where line i's body starts (its opening brace; in an envelope, the comma in its place). */
  start(i: number): number {
    return this.lineStart(i) + (this.envelope?.head ?? 0);
  }

  /** Just past the body's closing brace. */
  end(i: number): number {
    return this.index[i * 2];
  }

  /** Where line i's `,"raw":` starts, or its closing brace's offset when it has none. */
  rawAt(i: number): number {
    return this.index[i * 2 + 1];
  }

  /** Each body as text (the envelope's fields not in it). */
  get json(): string[] {
    if (!this.texts) {
      const b = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
      this.texts = Array.from({ length: this.length }, (_, i) => (this.envelope ? `{${b.toString('latin1', this.start(i) + 1, this.end(i))}` : b.toString('latin1', this.start(i), this.end(i))));
    }
    return this.texts;
  }

  event(i: number): UpdateEvent {
    return (this.parsed[i] ??= JSON.parse(this.json[i]) as UpdateEvent);
  }

  all(): UpdateEvent[] {
    return this.json.map((_, i) => this.event(i));
  }
}

/** One UPDATE (header included) as an event; throws BgpError as decodeUpdate does. */
export function updateEvent(msg: Uint8Array, ctx: CodecContext, timestamp: number): UpdateEvent {
  const u = decodeUpdate(msg, ctx);
  const ids = !!(ctx.addPath?.ipv4 || ctx.addPath?.ipv6);
  const event: UpdateEvent = { timestamp };
  const withdrawn: Prefix[] = [...u.withdrawn];
  const attrs = u.attributes as Known[];
  const unreach = attrs.find((a) => a.type === AttrType.MP_UNREACH_NLRI);
  if (unreach?.type === AttrType.MP_UNREACH_NLRI) withdrawn.push(...unreach.withdrawn);
  if (u.treatAsWithdraw) {
    // RFC 7606: what it announced is withdrawn, and its attributes describe nothing.
    const reach = attrs.find((a) => a.type === AttrType.MP_REACH_NLRI);
    withdrawn.push(...u.nlri);
    if (reach?.type === AttrType.MP_REACH_NLRI) withdrawn.push(...reach.nlri);
  } else {
    let nextHop = '';
    let reach: Prefix[] = [];
    let reachHop = '';
    for (const a of mergeAs4(attrs, ctx.asn4) as Known[]) {
      setField(event, a);
      if (a.type === AttrType.NEXT_HOP) nextHop = a.nextHop;
      else if (a.type === AttrType.MP_REACH_NLRI) {
        reach = a.nlri;
        reachHop = a.nextHops.join(',');
      }
    }
    // The IPv4 NLRI field first, as withdrawals list the Withdrawn Routes field first.
    const announcements: UpdateAnnouncement[] = [];
    announce(announcements, nextHop, u.nlri, ids);
    announce(announcements, reachHop, reach, ids);
    if (announcements.length) event.announcements = announcements;
  }
  if (withdrawn.length) {
    event.withdrawals = withdrawn.map((p) => p.prefix);
    if (ids) event.withdrawal_path_ids = withdrawn.map((p) => p.pathId ?? 0);
  }
  return event;
}

/** Adds prefixes to the entry of their next hop. */
function announce(list: UpdateAnnouncement[], nextHop: string, prefixes: Prefix[], ids: boolean): void {
  if (prefixes.length === 0) return;
  let entry = list.find((e) => e.next_hop === nextHop);
  if (!entry) list.push((entry = ids ? { next_hop: nextHop, prefixes: [], path_id: [] } : { next_hop: nextHop, prefixes: [] }));
  for (const p of prefixes) {
    entry.prefixes.push(p.prefix);
    entry.path_id?.push(p.pathId ?? 0);
  }
}

/** The event's field for one path attribute (attributes UpdateEvent has no field for: none). */
function setField(e: UpdateEvent, a: Known): void {
  switch (a.type) {
    case AttrType.ORIGIN:
      e.origin = ORIGINS[a.origin];
      break;
    case AttrType.AS_PATH: {
      const path: (number | number[])[] = [];
      for (const s of a.segments) {
        if (s.type === AsPathSegmentType.AS_SET || s.type === AsPathSegmentType.AS_CONFED_SET) path.push(s.asns);
        else path.push(...s.asns);
      }
      e.path = path;
      break;
    }
    case AttrType.MULTI_EXIT_DISC:
      e.med = a.med;
      break;
    case AttrType.LOCAL_PREF:
      e.local_pref = a.localPref;
      break;
    case AttrType.ATOMIC_AGGREGATE:
      e.atomic_aggregate = true;
      break;
    case AttrType.AGGREGATOR:
      e.aggregator = `${a.asn}:${a.address}`;
      break;
    case AttrType.COMMUNITIES:
      e.community = a.communities.map((c) => [c >>> 16, c & 0xffff]);
      break;
    case AttrType.EXTENDED_COMMUNITIES:
      e.extended_community = a.extendedCommunities.map((c) => Buffer.from(c).toString('hex'));
      break;
    case AttrType.LARGE_COMMUNITY:
      e.large_community = a.largeCommunities;
      break;
    case AttrType.OTC:
      e.otc = a.otc;
      break;
  }
}

/**
 * A path the RIB holds, as an UPDATE event announcing its one prefix (a stream's snapshot):
 * from its stored attribute set (4-octet AS numbers; an IPv6 next hop in an MP_REACH_NLRI
 * without NLRI).
 */
export function storedPathEvent(block: Uint8Array, prefix: string, pathId: number, timestamp: number): UpdateEvent {
  const event: UpdateEvent = { timestamp };
  let nextHop = '';
  const w = new AttrWalker(block);
  while (w.next()) {
    let a: Known;
    try {
      a = decodeAttribute(w.type, w.flags, block.subarray(w.value, w.value + w.length), { asn4: true }) as Known;
    } catch {
      continue; // stored sets passed the checks already
    }
    setField(event, a);
    if (a.type === AttrType.NEXT_HOP) nextHop = a.nextHop;
    else if (a.type === AttrType.MP_REACH_NLRI) nextHop = a.nextHops.join(',');
  }
  event.announcements = [pathId ? { next_hop: nextHop, prefixes: [prefix], path_id: [pathId] } : { next_hop: nextHop, prefixes: [prefix] }];
  return event;
}
