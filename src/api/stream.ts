// WS /stream: live route events in RIPE RIS Live's envelope and shapes (ecosystem §2.1).
// Clients send `ris_subscribe` / `ris_unsubscribe` (and `ping`); the server answers
// `ris_subscribe_ok`, `ris_message`, `ris_error`, `pong`. UPDATEs come decoded from the RIB
// workers (rib/events.ts), and only while someone subscribes to them; OPEN, NOTIFICATION,
// KEEPALIVE and RIS_PEER_STATE from the neighbors. `snapshot: true` sends the table matching
// the filter first, then an END_OF_RIB marker, then what changed meanwhile and after: nothing
// is lost in between. `socketOptions.format = "msgpack"` switches a client to binary msgpack
// frames; `socketOptions.batch = true` (for high-rate clients) puts a batch's messages in one
// frame: JSON lines, or one msgpack array. UPDATE events trail the RIB when it is busy (they
// are written at the lowest priority: rib/eventLane.ts); a client whose queue is over half its
// bound holds them back until it has read it. A client that cannot keep up (its queue full, or
// the UPDATEs held back for it past the lane's bound) gets one `ris_error` and is closed.

import { hostname } from 'node:os';
import { log } from '../log.js';
import { pack } from 'msgpackr';
import type { Neighbor } from '../neighbor/neighbor.js';
import { ID_DIGITS, storedPathEvent, type EventEnvelope, type UpdateEventBatch, type UpdateEventMode } from '../rib/events.js';
import type { Speaker, UpdateSource } from '../speaker/speaker.js';
import { watchRisMessages } from './risMessages.js';
import { FilterError, matches, parseSubscription, rowMatches, type RisData, type Subscription } from './risFilter.js';
import type { RibView } from './ribView.js';
import { SOCKET_BUFFER_BYTES, type SocketHandler, type SocketPeer } from './transport.js';

/** Subscriptions one client may hold. */
const MAX_SUBSCRIPTIONS = 16;
/** Stream clients at once. */
const MAX_CLIENTS = 256;
/** How long one client behind may hold the UPDATE events back (for every watcher) before it is cut off. */
const HOLD_MAX_MS = 5000;

interface Client {
  peer: SocketPeer;
  subs: Subscription[];
  msgpack: boolean;
  /** socketOptions.batch: a batch's messages in one frame (JSON lines, or a msgpack array). */
  batch: boolean;
  /** While a snapshot is sent: live messages held back, in order, and their bytes. */
  held: Array<string | Uint8Array> | null;
  heldBytes: number;
}

/**
 * One message for every client that takes it: the envelope's fields as text, the body as JSON
 * text (the workers' own for an UPDATE), joined without parsing; parsed only for a filter that
 * looks inside, or for a msgpack client. `raw`, when present, is the body's last field.
 */
class Outgoing {
  private parsed?: RisData;
  private full?: string;
  private plain?: string;
  private rawAt?: number;
  private mp?: Uint8Array;
  private mpRaw?: Uint8Array;

  constructor(
    /** The envelope's fields, for the filters that read only those. */
    readonly head: RisData,
    private readonly body: string,
  ) {}

  /** Where the body's `raw` field starts (-1: none). Raw is hex: no quote inside it. */
  private get raw(): number {
    if (this.rawAt === undefined) {
      const q = this.body.lastIndexOf('"', this.body.length - 3);
      this.rawAt = this.body.endsWith('"}') && this.body.startsWith(',"raw":"', q - 7) ? q - 7 : -1;
    }
    return this.rawAt;
  }

  data(): RisData {
    return (this.parsed ??= { ...this.head, ...(JSON.parse(this.body) as object) } as RisData);
  }

  for(c: Client, raw: boolean): string | Uint8Array {
    if (c.msgpack) {
      const d = this.data();
      if (raw || d.raw === undefined) return (this.mpRaw ??= new Uint8Array(pack({ type: 'ris_message', data: d })));
      return (this.mp ??= new Uint8Array(pack({ type: 'ris_message', data: { ...d, raw: undefined } })));
    }
    if (raw || this.raw < 0) return (this.full ??= `${this.headText()},${this.body.slice(1)}}`);
    return (this.plain ??= `${this.headText()},${this.body.slice(1, this.raw)}}}`);
  }

  private headText(): string {
    const [before, after] = envelopeText(this.head);
    return before + this.head.id + after;
  }
}

/**
 * A ris_message's text up to its envelope's id, and from after the id to where the body's
 * fields go. Addresses, AS numbers and ids need no escaping; the host name is quoted by
 * JSON.stringify.
 */
function envelopeText(h: RisData): [string, string] {
  return [`{"type":"ris_message","data":{"peer":"${h.peer}","peer_asn":"${h.peer_asn}","id":"`, `","host":${JSON.stringify(h.host)},"type":"${h.type}"`];
}

/** Whether a subscription reads more than the envelope (then the body is parsed). */
const looksInside = (s: Subscription) => s.prefixes !== undefined || s.path !== undefined || s.require !== undefined;

export class RouteStream {
  readonly host = hostname();
  private readonly clients = new Map<SocketPeer, Client>();
  private counter = 0;
  private mode: UpdateEventMode = 'off';
  /** Messages dropped because a client could not keep up (it was closed). */
  dropped = 0;
  /** Clients behind: UPDATE events are held back for them until they have read their queue (at most HOLD_MAX_MS: the timer). */
  private readonly behind = new Map<Client, NodeJS.Timeout>();

  readonly handler: SocketHandler = {
    open: (peer) => {
      if (this.clients.size >= MAX_CLIENTS) {
        this.error(peer, `too many stream clients (at most ${MAX_CLIENTS})`);
        peer.close(1013, 'too many clients');
        return;
      }
      this.clients.set(peer, { peer, subs: [], msgpack: false, batch: false, held: null, heldBytes: 0 });
    },
    message: (peer, data) => this.onMessage(peer, data),
    close: (peer) => {
      const c = this.clients.get(peer);
      if (c) this.caughtUp(c);
      this.clients.delete(peer);
      this.updateMode();
    },
  };

  constructor(
    private readonly speaker: Speaker,
    private readonly rib: RibView,
    /** What one client may have queued before it is cut off. */
    private readonly bufferBytes = SOCKET_BUFFER_BYTES,
  ) {
    speaker.rib!.on('updates', (_index, events) => this.updates(events));
    speaker.rib!.on('updatesBackedUp', () => {
      for (const c of [...this.behind.keys()]) this.tooSlow(c, 'client too slow: the UPDATEs held back for it passed the server\'s bound');
    });
    for (const n of speaker.neighbors.values()) this.watchNeighbor(n);
    speaker.on('neighborAdded', (n) => this.watchNeighbor(n));
  }

  close(): void {
    for (const c of this.clients.values()) {
      this.caughtUp(c);
      c.peer.close(1001, 'shutting down');
    }
    this.clients.clear();
    this.updateMode();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  private watchNeighbor(n: Neighbor): void {
    watchRisMessages(n, (type, fields) => this.publish(n, type, fields));
  }

  /** The envelope's id of message number `k`: this host and `k` in hex, ID_DIGITS of them (BatchText writes the same). */
  private messageId(k: number): string {
    return `${this.host}-${k.toString(16).padStart(ID_DIGITS, '0')}`;
  }

  /** A message's envelope fields but its id: neighbor `n` on `session` (its peer AS, else the configured one). */
  private headOf(n: Neighbor, session: Neighbor['session'], type: RisData['type']): RisData {
    return { peer: n.config.address, peer_asn: String(session?.peerAs ?? n.config.remoteAs), host: this.host, type } as RisData;
  }

  /** Each session's envelope for the events' thread (envelopeOf): the same for all its batches. */
  private readonly envelopes = new WeakMap<object, EventEnvelope>();

  /** The envelope the events' thread writes a batch's UPDATE events in (their ids left for BatchText), from its source. */
  private envelopeOf(source: UpdateSource | undefined): EventEnvelope | undefined {
    if (!source) return undefined;
    const { neighbor: n, session } = source;
    const cached = session && this.envelopes.get(session);
    if (cached) return cached;
    const [before, after] = envelopeText(this.headOf(n, session, 'UPDATE'));
    const envelope = { before: `${before}${this.host}-`, after };
    if (session) this.envelopes.set(session, envelope);
    return envelope;
  }

  /**
   * A session's message, after the events of the UPDATEs its peer sent before it (those may
   * trail: rib/eventLane.ts); its id is given when it goes out, in order with theirs.
   */
  private publish(n: Neighbor, type: RisData['type'], fields: object): void {
    if (this.clients.size === 0) return;
    const head = this.headOf(n, n.session, type);
    const body = JSON.stringify({ timestamp: Date.now() / 1000, ...fields });
    this.speaker.rib!.afterUpdatesHandedOn(() => this.deliver([new Outgoing({ ...head, id: this.messageId(this.counter++) }, body)]));
  }

  /**
   * A batch's UPDATEs, decoded by the workers, after the batch was applied. A JSON client whose
   * subscriptions read only the envelope (peer, host, type: the same for the whole batch) takes
   * all of the batch or none of it, as bytes joined once (BatchText); the others go message by
   * message, parsed as their filters or msgpack need.
   */
  private updates(batch: UpdateEventBatch): void {
    if (this.clients.size === 0) return;
    // The neighbor and session the batch came in on (none: local routes): its events may trail them.
    const source = batch.tag as UpdateSource | undefined;
    if (!source) return;
    const base = this.counter;
    this.counter += batch.length;
    const head = this.headOf(source.neighbor, source.session, 'UPDATE');
    let text: BatchText | undefined;
    let each: Outgoing[] | undefined;
    // A client cut off earlier in this loop (another's hold may have backed the lane up) is no longer met.
    for (const c of this.clients.values()) {
      if (c.subs.length === 0) continue;
      if (c.msgpack || c.subs.some(looksInside)) {
        each ??= batch.json.map((body, i) => new Outgoing({ ...head, id: this.messageId(base + i) }, body));
        this.deliverTo(c, each);
        continue;
      }
      let hit = false;
      let raw = false;
      for (const s of c.subs) {
        if (matches(s, head)) {
          hit = true;
          raw ||= s.includeRaw;
        }
      }
      if (!hit) continue;
      let t: ReturnType<BatchText['lines']>;
      try {
        t = (text ??= new BatchText(batch, head, base)).lines(raw);
      } catch (e) {
        // Never a malformed frame: the client is told and let go, the reason logged.
        log(`route stream: ${(e as Error).message}; client disconnected`);
        this.tooSlow(c, 'internal error encoding UPDATEs');
        continue;
      }
      if (c.batch || batch.length === 1) this.send(c, t.all);
      else c.peer.cork(() => t.each((line) => this.clients.has(c.peer) && this.send(c, line)));
    }
  }

  /** Each client gets the messages its subscriptions match, corked into as few writes as can be. */
  private deliver(out: Outgoing[]): void {
    for (const c of [...this.clients.values()]) this.deliverTo(c, out);
  }

  private deliverTo(c: Client, out: Outgoing[]): void {
    const frames: Array<string | Uint8Array> = [];
    for (const m of out) {
      let raw = false;
      let hit = false;
      for (const s of c.subs) {
        if (matches(s, looksInside(s) ? m.data() : m.head)) {
          hit = true;
          raw ||= s.includeRaw;
        }
      }
      if (hit) frames.push(m.for(c, raw));
    }
    if (frames.length === 0) return;
    if (c.batch && frames.length > 1) this.send(c, c.msgpack ? msgpackArray(frames as Uint8Array[]) : frames.join('\n'));
    else c.peer.cork(() => frames.forEach((f) => this.clients.has(c.peer) && this.send(c, f)));
  }

  /** Queues one message for a client, or holds it back during a snapshot; cuts off a client that cannot keep up. */
  private send(c: Client, data: string | Uint8Array): void {
    const size = typeof data === 'string' ? data.length : data.byteLength;
    if (c.held) {
      c.held.push(data);
      c.heldBytes += size;
      if (c.heldBytes > this.bufferBytes) this.tooSlow(c, 'live updates arrived faster than the snapshot was taken');
      return;
    }
    if (c.peer.buffered + size > this.bufferBytes) {
      this.tooSlow(c, `client too slow: more than ${this.bufferBytes} bytes queued`);
      return;
    }
    // JSON in bytes (BatchText) still goes as text; msgpack as binary.
    c.peer.send(data, c.msgpack);
    if (c.peer.buffered > this.bufferBytes / 2 && !this.behind.has(c)) {
      this.behind.set(c, setTimeout(() => this.tooSlow(c, `client too slow: held the stream back for ${HOLD_MAX_MS / 1000} s`), HOLD_MAX_MS).unref());
      this.speaker.rib!.holdUpdates(c);
      void c.peer.drained(this.bufferBytes / 2).then(() => this.caughtUp(c));
    }
  }

  private caughtUp(c: Client): void {
    const timer = this.behind.get(c);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.behind.delete(c);
    this.speaker.rib!.releaseUpdates(c);
  }

  private tooSlow(c: Client, reason: string): void {
    this.dropped++;
    this.caughtUp(c);
    this.clients.delete(c.peer);
    this.error(c.peer, `${reason}; disconnected`, c.msgpack);
    c.peer.close(1008, 'too slow');
    this.updateMode();
  }

  private error(peer: SocketPeer, message: string, msgpack = false): void {
    const e = { type: 'ris_error', data: { message } };
    peer.send(msgpack ? new Uint8Array(pack(e)) : JSON.stringify(e));
  }

  private onMessage(peer: SocketPeer, data: Buffer): void {
    const c = this.clients.get(peer);
    if (!c) return;
    let msg: { type?: unknown; data?: unknown };
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      this.error(peer, 'message: not JSON', c.msgpack);
      return;
    }
    if (!msg || typeof msg !== 'object') {
      this.error(peer, 'message: expected {"type": …, "data": …}', c.msgpack);
      return;
    }
    switch (msg.type) {
      case 'ping':
        peer.send(c.msgpack ? new Uint8Array(pack({ type: 'pong', data: null })) : JSON.stringify({ type: 'pong', data: null }));
        return;
      case 'ris_subscribe':
        this.subscribe(c, msg.data);
        return;
      case 'ris_unsubscribe': {
        const key = JSON.stringify(msg.data ?? {});
        c.subs = c.subs.filter((s) => JSON.stringify(s.source) !== key);
        this.updateMode();
        return;
      }
      default:
        this.error(peer, `type: expected ris_subscribe, ris_unsubscribe or ping, got ${JSON.stringify(msg.type)}`, c.msgpack);
    }
  }

  private subscribe(c: Client, data: unknown): void {
    let s: Subscription;
    try {
      s = parseSubscription(data);
      const opts = (data as { socketOptions?: unknown } | undefined)?.socketOptions;
      if (opts !== undefined) {
        if (!opts || typeof opts !== 'object') throw new FilterError('socketOptions', 'expected an object');
        const o = opts as Record<string, unknown>;
        for (const k of Object.keys(o)) if (!['format', 'batch', 'includeRaw', 'acknowledge'].includes(k)) throw new FilterError(`socketOptions.${k}`, 'unknown option (expected format, batch, includeRaw, acknowledge)');
        if (o.batch !== undefined && typeof o.batch !== 'boolean') throw new FilterError('socketOptions.batch', `expected true or false, got ${JSON.stringify(o.batch)}`);
        if (o.format !== undefined && o.format !== 'json' && o.format !== 'msgpack') throw new FilterError('socketOptions.format', `expected json or msgpack, got ${JSON.stringify(o.format)}`);
        if (o.includeRaw === true) s.includeRaw = true;
        if (o.format) c.msgpack = o.format === 'msgpack';
        if (o.batch !== undefined) c.batch = o.batch as boolean;
      }
      if (c.subs.length >= MAX_SUBSCRIPTIONS) throw new FilterError('ris_subscribe', `at most ${MAX_SUBSCRIPTIONS} subscriptions per client`);
    } catch (e) {
      this.error(c.peer, e instanceof FilterError ? e.message : String(e), c.msgpack);
      return;
    }
    c.subs.push(s);
    this.updateMode();
    const ok = { type: 'ris_subscribe_ok', data: { subscription: s.source, socketOptions: { format: c.msgpack ? 'msgpack' : 'json', batch: c.batch, includeRaw: s.includeRaw } } };
    c.peer.send(c.msgpack ? new Uint8Array(pack(ok)) : JSON.stringify(ok));
    if (s.snapshot) void this.snapshot(c, s);
  }

  /**
   * The table matching `s`, from shared memory in chunks paced by the client; live messages for
   * the client are held back meanwhile and follow the END_OF_RIB marker. A change read by the
   * walk may come again after it: applied in order, the client ends with the RIB's state.
   */
  private async snapshot(c: Client, s: Subscription): Promise<void> {
    c.held ??= [];
    const names = this.rib.peerNames();
    const now = Date.now() / 1000;
    let prefixes = 0;
    const out: Array<string | Uint8Array> = [];
    const peerIndex = s.peer ? this.rib.peerFilter(s.peer) : undefined;
    await this.rib.walk(
      this.rib.familiesOf(undefined),
      peerIndex,
      (prefix, paths) => {
        for (const p of paths) {
          const [address, asn] = names.get(p.peer) ?? ['', 0];
          const e = storedPathEvent(this.rib.attributeBlock(p.attr), prefix, p.pathId, now);
          if (!rowMatches(s, address, prefix, e.path)) continue;
          const data = { peer: address, peer_asn: String(asn), id: `${now.toFixed(2)}-${this.host}-${(this.counter++).toString(16)}`, host: this.host, type: 'UPDATE', ...e };
          const env = { type: 'ris_message', data };
          out.push(c.msgpack ? new Uint8Array(pack(env)) : JSON.stringify(env));
          prefixes++;
        }
      },
      async () => {
        if (!this.clients.has(c.peer)) return false;
        for (const m of out.splice(0)) c.peer.send(m);
        await c.peer.drained(this.bufferBytes / 2);
        return this.clients.has(c.peer);
      },
    );
    if (!this.clients.has(c.peer)) return;
    for (const m of out.splice(0)) c.peer.send(m);
    const eor = { type: 'ris_message', data: { timestamp: Date.now() / 1000, host: this.host, type: 'END_OF_RIB', prefixes, subscription: s.source } };
    c.peer.send(c.msgpack ? new Uint8Array(pack(eor)) : JSON.stringify(eor));
    const held = c.held;
    c.held = null;
    c.heldBytes = 0;
    for (const m of held) this.send(c, m);
  }

  /** UPDATE events from the workers only while a subscription can take them. */
  private updateMode(): void {
    let mode: UpdateEventMode = 'off';
    for (const c of this.clients.values()) {
      for (const s of c.subs) {
        if (s.type && s.type !== 'UPDATE') continue;
        if (s.includeRaw) mode = 'raw';
        else if (mode === 'off') mode = 'decoded';
      }
    }
    if (mode !== this.mode) {
      this.mode = mode;
      this.speaker.rib?.envelopeUpdates(mode === 'off' ? undefined : (tag) => this.envelopeOf(tag as UpdateSource | undefined));
      this.speaker.rib?.watchUpdates(mode, this);
    }
  }
}

const ascii = (s: string) => Buffer.from(s, 'utf8');

/**
 * A batch's UPDATE messages as RIS Live JSON text, from the events' thread's bytes without
 * strings: per message the envelope's fields (peer, peer_asn, id, host, type), then the body's.
 * When that thread wrote each message whole (the batch's envelope) and as the client wants it
 * (with raw, or none has raw), its bytes are the text: only the ids are written in. Otherwise
 * it is built, at most once per batch with raw and once without. For every client that takes
 * the whole batch: all messages joined by newlines (a batched frame), each message a view into
 * it.
 */
class BatchText {
  private readonly built: Array<{ all: Buffer; ends: Uint32Array } | undefined> = [undefined, undefined];

  constructor(
    private readonly batch: UpdateEventBatch,
    private readonly head: RisData,
    /** The first message's id number. */
    private readonly base: number,
  ) {}

  lines(raw: boolean): { all: Buffer; each(fn: (line: Buffer) => void): void } {
    const b = (this.built[raw ? 1 : 0] ??= this.whole(raw) ?? this.build(raw));
    return {
      all: b.all,
      each(fn) {
        for (let i = 0, start = 0; i < b.ends.length; start = b.ends[i++] + 1) fn(b.all.subarray(start, b.ends[i]));
      },
    };
  }

  /** The events' thread's bytes with the ids written in, when they are what the client takes. */
  private whole(raw: boolean): { all: Buffer; ends: Uint32Array } | undefined {
    const { batch, base } = this;
    const e = batch.envelope;
    const n = batch.length;
    if (e === undefined) return undefined;
    if (!raw) for (let i = 0; i < n; i++) if (batch.rawAt(i) !== batch.end(i) - 1) return undefined;
    const all = Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.byteLength);
    if (n > 0 && batch.lineEnd(n - 1) !== all.length) throw new Error(`a batch's event index does not end at its ${all.length} bytes`);
    const ends = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      writeHex(all, batch.lineStart(i) + e.before, base + i, ID_DIGITS);
      ends[i] = batch.lineEnd(i);
    }
    return { all, ends };
  }

  private build(raw: boolean): { all: Buffer; ends: Uint32Array } {
    const { batch, head, base } = this;
    // `{"type":"ris_message","data":{"peer":…,"peer_asn":…,"id":"HOST-` and `","host":…,"type":"UPDATE",`.
    const [beforeText, afterText] = envelopeText(head);
    const before = ascii(`${beforeText}${head.host}-`);
    const after = ascii(`${afterText},`);
    const n = batch.length;
    const src = batch.bytes;
    // Without raw, a body ends at its raw field and both objects are closed: "}}".
    let total = n - 1;
    for (let i = 0; i < n; i++) total += before.length + ID_DIGITS + after.length + (raw ? batch.end(i) : batch.rawAt(i)) - batch.start(i) - 1 + (raw ? 1 : 2);
    // Every line within the batch's bytes, or what it lacks would go out as whatever memory held.
    if (n > 0 && (batch.end(n - 1) > src.length || batch.start(n - 1) > batch.end(n - 1))) throw new Error(`a batch's event index points past its ${src.length} bytes`);
    const all = Buffer.allocUnsafe(total);
    const ends = new Uint32Array(n);
    let o = 0;
    for (let i = 0; i < n; i++) {
      if (i > 0) all[o++] = 0x0a;
      all.set(before, o);
      o += before.length;
      o = writeHex(all, o, base + i, ID_DIGITS);
      all.set(after, o);
      o += after.length;
      const s = batch.start(i) + 1;
      const e = raw ? batch.end(i) : batch.rawAt(i);
      all.set(src.subarray(s, e), o);
      o += e - s;
      if (!raw) all[o++] = 0x7d;
      all[o++] = 0x7d;
      ends[i] = o;
    }
    if (o !== total) throw new Error(`a batch's ${n} UPDATE events came to ${o} bytes, ${total} counted`);
    return { all, ends };
  }
}

/** v in lowercase hex at out[o], zero-padded to `digits`; returns the offset past it. */
function writeHex(out: Uint8Array, o: number, v: number, digits: number): number {
  const end = o + digits;
  for (let p = end; p > o; ) {
    const d = v % 16;
    out[--p] = d < 10 ? 48 + d : 87 + d;
    v = Math.floor(v / 16);
  }
  return end;
}

/** Packed messages as one msgpack array: its header, then the items as they are. */
function msgpackArray(items: Uint8Array[]): Uint8Array {
  const head = items.length < 16 ? Uint8Array.of(0x90 | items.length) : items.length < 65536 ? Uint8Array.of(0xdc, items.length >> 8, items.length & 0xff) : Uint8Array.of(0xdd, items.length >>> 24, (items.length >> 16) & 0xff, (items.length >> 8) & 0xff, items.length & 0xff);
  return Buffer.concat([head, ...items]);
}
