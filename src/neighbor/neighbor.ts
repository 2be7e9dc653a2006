// One BGP neighbor: its FSM (fsm.ts) driven by sockets and timers, on the main thread.
// It frames messages, handles OPEN/KEEPALIVE/NOTIFICATION/ROUTE-REFRESH itself and hands
// UPDATE bytes, undecoded, to the sink the speaker gives it.

import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { NeighborConfig } from '../config/schema.js';
import { DEFAULT_RING_BYTES, IngestRing } from '../io/ring.js';
import { log } from '../log.js';
import {
  BgpError,
  CeaseSubcode,
  cease,
  decodeNotification,
  decodeOpen,
  decodeRouteRefresh,
  describeNotification,
  encodeEndOfRib,
  encodeNotification,
  encodeOpen,
  encodeRouteRefresh,
  endOfRibFamily,
  ErrorCode,
  familyName,
  FsmSubcode,
  ipv4ToNumber,
  KEEPALIVE,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_MESSAGE_LENGTH,
  MESSAGE_TYPE_NAMES,
  MessageType,
  OpenSubcode,
  RouteRefreshSubtype,
  type NotificationMessage,
  type OpenMessage,
} from '../packet/index.js';
import { Action, Event, State, transition } from './fsm.js';
import { localOpen, negotiate, validateOpen, type LocalIdentity, type NegotiatedSession } from './negotiate.js';

/** RFC 4271 §8: the hold timer while waiting for the peer's OPEN. */
const LARGE_HOLD_TIME_S = 240;
/** RFC 9687 §4: at least eight minutes unless configured. */
const MIN_SEND_HOLD_TIME_S = 480;
/** A session that stayed up this long wipes out the back-off of earlier failures. */
const STABLE_SESSION_MS = 60_000;

type Direction = 'inbound' | 'outbound';

/** A read Node makes while reading is paused lands here: 64 KiB, its largest read. */
const PARKING_BYTES = 64 * 1024;

/** One TCP connection of the neighbor, reading into its own shared-memory ring. */
class Connection {
  readonly ring: IngestRing;
  maxLength = MAX_MESSAGE_LENGTH;
  /** The peer's OPEN, once received on this connection. */
  open: OpenMessage | null = null;
  closed = false;
  /** Reading stopped because the ring is full of batches the workers still hold. */
  paused = false;
  socket!: net.Socket;
  /** UPDATEs framed but not yet handed to the RIB: (offset, length) pairs and their region. */
  batch: number[] = [];
  region: ReturnType<IngestRing['retain']> | null = null;
  /**
   * Bytes read but not yet in the ring, oldest first. They go in before anything read later,
   * as workers free space (Neighbor.pump); reading stays paused while any wait here.
   */
  readonly parked: Buffer[] = [];

  /**
   * Where the read after a pause lands: Node asks for the next buffer right after the read
   * that filled the ring, and keeps it until reading resumes. Its bytes are copied into the
   * ring then (once per pause, at most 64 KiB).
   */
  private readonly parking = Buffer.allocUnsafe(PARKING_BYTES);

  constructor(
    readonly direction: Direction,
    ringBytes: number,
  ) {
    this.ring = new IngestRing(ringBytes);
  }

  /**
   * Options that make the kernel's copy land in the ring (net.Socket `onread`). `received`
   * takes over once the bytes are in order (in the ring or parked); false pauses reading.
   */
  onread(received: () => boolean, failed: (err: unknown) => void) {
    return {
      buffer: () => {
        try {
          return this.nextReadBuffer();
        } catch (err) {
          failed(err);
          return this.spareBuffer();
        }
      },
      callback: (n: number, buf: Uint8Array): boolean => {
        try {
          if (this.closed) return true; // read on until the socket goes, and drop it
          this.land(n, buf);
          return received();
        } catch (err) {
          failed(err);
          return false;
        }
      },
    };
  }

  /** Ring space while reading runs and nothing is parked; otherwise a buffer to park in. */
  private nextReadBuffer(): Buffer {
    if (!this.closed && !this.paused && !this.parked.length) {
      const space = this.ring.nextBuffer();
      if (space) return space;
    }
    return this.spareBuffer();
  }

  /** The parking buffer, or a new one while the parking buffer still holds parked bytes. */
  private spareBuffer(): Buffer {
    const held = this.parked.some((b) => b.buffer === this.parking.buffer);
    return held ? Buffer.allocUnsafe(PARKING_BYTES) : this.parking;
  }

  /** n bytes were read into `buf`: in the ring at its write position, or anywhere else (parked). */
  private land(n: number, buf: Uint8Array): void {
    if (buf.buffer === this.ring.sab) {
      // The ring hands out its space only while nothing is parked, so this keeps the order.
      if (!this.ring.isNext(buf) || this.parked.length) throw new Error('read landed out of order in the receive ring');
      this.ring.commit(n);
      return;
    }
    this.parked.push(Buffer.from(buf.buffer, buf.byteOffset, n));
  }

  /** Moves parked bytes into the ring, at most one contiguous space: false when none moved. */
  unpark(): boolean {
    const head = this.parked[0];
    if (!head) return false;
    const n = this.ring.append(head);
    if (n === 0) return false;
    if (n === head.length) this.parked.shift();
    else this.parked[0] = head.subarray(n);
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.parked.length = 0;
    // Let a final NOTIFICATION drain before the FIN; never wait on a peer that stopped reading.
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}

export interface MessageCounters {
  open: number;
  update: number;
  notification: number;
  keepalive: number;
  refresh: number;
  total: number;
}

const zeroCounters = (): MessageCounters => ({ open: 0, update: 0, notification: 0, keepalive: 0, refresh: 0, total: 0 });
const COUNTER_KEY: Record<number, keyof MessageCounters> = { 1: 'open', 2: 'update', 3: 'notification', 4: 'keepalive', 5: 'refresh' };

export interface LastError {
  direction: 'sent' | 'received' | 'local';
  code: number;
  subcode: number;
  text: string;
  at: number;
}

/** Where UPDATEs go once the session is Established: the RIB pipeline (speaker.ts). */
export interface UpdateIngest {
  submit(n: Neighbor, buffer: SharedArrayBuffer, descriptors: Uint32Array): Promise<{ error?: { code: number; subcode: number; data: number[]; detail: string } }>;
  sessionUp(n: Neighbor): void;
  /** `event` tells why: a session lost without NOTIFICATION may be kept (graceful restart). */
  sessionDown(n: Neighbor, event: Event): void;
  /** Sends the peer its whole Adj-RIB-Out for one family again (ROUTE-REFRESH). */
  resend(n: Neighbor, family: string): void;
}

export interface NeighborEvents {
  state: [from: State, to: State, event: Event];
  established: [session: NegotiatedSession];
  notification: [direction: 'sent' | 'received', n: NotificationMessage];
  message: [direction: 'in' | 'out', type: number, at: number];
  endOfRib: [family: string];
  routeRefresh: [afi: number, safi: number, subtype: number];
  /** The socket took all queued output. */
  drain: [];
}

export class Neighbor extends EventEmitter<NeighborEvents> {
  state: State = State.Idle;
  session: NegotiatedSession | null = null;
  lastError: LastError | null = null;
  readonly received = zeroCounters();
  readonly sent = zeroCounters();
  /** Established transitions (flaps). */
  establishedCount = 0;
  establishedAt = 0;
  connectRetryCounter = 0;
  /** The RIB; without one, UPDATEs are counted and dropped. */
  ingest: UpdateIngest | null = null;
  /** Log one line per message received, for debugging. */
  traceMessages = false;
  /** Size of each connection's receive ring; applies to connections made after a change. */
  ringBytes = DEFAULT_RING_BYTES;
  /**
   * Unexpected exceptions on this neighbor's events (its bytes, socket, timers, the RIB's
   * answers), each of which reset the session instead of ending the process.
   */
  internalErrors = 0;

  private conn: Connection | null = null;
  /** An inbound connection that arrived while `conn` was in OpenSent/OpenConfirm (RFC 4271 §6.8). */
  private candidate: Connection | null = null;
  private readonly ourOpen: OpenMessage;
  private readonly ourOpenBytes: Uint8Array;
  private enabled = false;
  private failures = 0;
  private idleHoldOverrideMs: number | null = null;
  private pendingNotification: NotificationMessage | null = null;
  /** An internal error is being handled: one arising meanwhile only closes what is left. */
  private resetting = false;
  private lastReceivedAt = 0;
  private holdMs = 0;
  private timers: Record<'connectRetry' | 'hold' | 'keepalive' | 'idleHold' | 'sendHold', NodeJS.Timeout | null> = {
    connectRetry: null,
    hold: null,
    keepalive: null,
    idleHold: null,
    sendHold: null,
  };

  constructor(
    readonly config: NeighborConfig,
    readonly local: LocalIdentity,
  ) {
    super();
    this.ourOpen = localOpen(local, config);
    this.ourOpenBytes = encodeOpen(this.ourOpen);
  }

  get name(): string {
    const d = this.config.description ? ` (${this.config.description})` : '';
    return `neighbor ${this.config.address} AS${this.config.remoteAs}${d}`;
  }

  // ---- operator interface ----------------------------------------------------------------

  /** ManualStart (or its passive variant). */
  start(): void {
    this.enabled = true;
    this.failures = 0;
    this.handle(this.config.passive ? Event.ManualStartPassive : Event.ManualStart);
  }

  /** ManualStop: Cease / Administrative Shutdown with an RFC 9003 shutdown communication. */
  stop(text?: string): void {
    this.enabled = false;
    this.clearTimer('idleHold');
    this.pendingNotification = cease(CeaseSubcode.AdministrativeShutdown, text);
    this.handle(Event.ManualStop);
    this.dropCandidate(CeaseSubcode.AdministrativeShutdown, text);
  }

  /**
   * AutomaticStop with a Cease subcode (e.g. maximum prefixes reached). `restartAfter`:
   * seconds until the session may come back, or null to stay down until started again.
   */
  automaticStop(subcode: CeaseSubcode, text?: string, restartAfter?: number | null): void {
    if (restartAfter === null) this.enabled = false;
    else if (restartAfter !== undefined) this.idleHoldOverrideMs = restartAfter * 1000;
    this.pendingNotification = cease(subcode, text);
    this.handle(Event.AutomaticStop);
  }



  // ---- TCP ---------------------------------------------------------------------------------

  /**
   * An inbound connection from this neighbor's address (the speaker matched it). It arrives
   * paused; its handle moves to a socket that reads into the connection's ring.
   */
  incoming(accepted: net.Socket): void {
    let conn: Connection | null = null;
    try {
      if (!this.enabled || this.state === State.Idle) {
        accepted.destroy();
        return;
      }
      conn = new Connection('inbound', this.ringBytes);
      const handle = (accepted as unknown as { _handle: unknown })._handle;
      (accepted as unknown as { _handle: unknown })._handle = null;
      this.adopt(conn, new net.Socket({ handle, onread: this.onread(conn) } as net.SocketConstructorOpts));
      conn.socket.setNoDelay(true);
      conn.socket.resume();
      this.accept(conn);
    } catch (err) {
      if (conn?.socket) this.internalError(conn, err, 'accepting a connection');
      else {
        // The connection never came to be: nothing of the session to reset.
        accepted.destroy();
        this.noteInternalError(err, 'accepting a connection', 'connection refused');
      }
    }
  }

  private accept(conn: Connection): void {
    const socket = conn.socket;
    if (this.state === State.Connect || this.state === State.Active) {
      if (this.conn) this.releaseConnection(this.conn);
      this.attach(conn);
      this.handle(Event.TcpConnectionConfirmed);
      return;
    }
    if (this.state === State.Established || this.candidate) {
      // RFC 4271 §6.8: a collision with an Established session closes the new connection.
      this.notifyAndClose(conn, cease(CeaseSubcode.ConnectionCollisionResolution));
      return;
    }
    // OpenSent or OpenConfirm: open this one too; the OPEN it brings decides (§6.8).
    this.candidate = conn;
    this.wire(conn);
    this.write(conn, MessageType.OPEN, this.ourOpenBytes);
    log(`${this.name}: connection collision, second connection from ${socket.remoteAddress}`);
  }

  private connect(): void {
    const conn = new Connection('outbound', this.ringBytes);
    const socket = net.connect({
      host: this.config.address,
      port: this.config.port,
      localAddress: this.config.localAddress,
      noDelay: true,
      onread: this.onread(conn),
    });
    this.adopt(conn, socket);
    this.attach(conn);
    socket.once(
      'connect',
      this.guard(conn, 'connect', () => {
        if (this.conn === conn) this.handle(Event.TcpCrAcked);
      }),
    );
  }

  /** The socket's read path: ring, parking and framing, none of it able to throw out. */
  private onread(conn: Connection) {
    return conn.onread(
      () => this.onRead(conn),
      (err) => this.internalError(conn, err, 'reading'),
    );
  }

  /** Gives the connection its socket; socket errors never go unhandled, wired or not. */
  private adopt(conn: Connection, socket: net.Socket): void {
    conn.socket = socket;
    socket.on('error', () => {});
  }

  /** Wraps a callback of one connection (null: of the session) so a throw resets only it. */
  private guard<A extends unknown[]>(conn: Connection | null, what: string, fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (err) {
        this.internalError(conn, err, what);
      }
    };
  }

  private attach(conn: Connection): void {
    this.conn = conn;
    this.wire(conn);
  }

  private wire(conn: Connection): void {
    const { socket } = conn;
    socket.on(
      'error',
      this.guard(conn, 'socket error', (err: Error) => {
        if (conn === this.conn && this.state !== State.Connect && this.state !== State.Active) {
          this.recordError('local', 0, 0, `connection error: ${err.message}`);
        }
      }),
    );
    socket.on('close', () => {
      conn.closed = true;
      if (conn === this.candidate) this.candidate = null;
      if (conn === this.conn) {
        this.conn = null;
        // The connection is gone already: what fails now is the session's to reset.
        this.guard(null, 'connection close', () => this.handle(Event.TcpConnectionFails))();
      }
    });
    socket.on(
      'drain',
      this.guard(conn, 'socket drain', () => {
        if (conn !== this.conn) return;
        this.clearTimer('sendHold');
        this.emit('drain');
      }),
    );
  }

  private releaseConnection(conn: Connection): void {
    if (this.conn === conn) this.conn = null;
    conn.socket.removeAllListeners('close');
    conn.close();
  }

  private notifyAndClose(conn: Connection, n: NotificationMessage): void {
    this.write(conn, MessageType.NOTIFICATION, encodeNotification(n));
    this.noteNotification('sent', n);
    conn.socket.removeAllListeners('close');
    conn.close();
  }

  private dropCandidate(subcode: CeaseSubcode, text?: string): void {
    if (!this.candidate) return;
    const c = this.candidate;
    this.candidate = null;
    this.notifyAndClose(c, cease(subcode, text));
  }

  // ---- receiving ---------------------------------------------------------------------------

  /** Bytes arrived (in the ring, or parked when it had no room): frame them. False pauses reading. */
  private onRead(conn: Connection): boolean {
    try {
      return this.pump(conn);
    } catch (err) {
      if (!(err instanceof BgpError)) {
        this.internalError(conn, err, 'framing');
        return false;
      }
      // A bad header from the peer ends that session only.
      if (conn === this.candidate) {
        this.candidate = null;
        this.notifyAndClose(conn, err);
      } else if (conn === this.conn) {
        this.pendingNotification = err;
        this.recordError('local', err.code, err.subcode, err.message);
        this.handle(Event.BgpHeaderErr);
      }
      return false;
    }
  }

  /**
   * Frames what the ring holds and hands its UPDATEs on, then moves parked bytes in, one
   * contiguous space at a time, framing after each, while the ring has room. True when reading
   * may go on: nothing is left parked and the ring has space for the next read.
   */
  private pump(conn: Connection): boolean {
    for (;;) {
      this.frame(conn);
      // Each read's UPDATEs go to the workers at once: waiting to fill larger batches was
      // measured slower (the workers idle meanwhile).
      this.submitBatch(conn);
      if (conn.closed) return true;
      if (!conn.unpark()) break;
    }
    const more = !conn.parked.length && conn.ring.nextBuffer() !== null;
    conn.paused = !more;
    return more;
  }

  /** Frames the complete messages in the ring; throws a bad header's NOTIFICATION. */
  private frame(conn: Connection): void {
    conn.ring.forEachMessage(conn.maxLength, (off, length, type) => {
      if (conn.closed) return false;
      if (conn === this.candidate) return this.onCandidateMessage(conn, type, conn.ring.bytes.subarray(off, off + length));
      if (type === MessageType.UPDATE && this.ingest && this.state === State.Established) {
        this.queueUpdate(conn, off, length);
        return true;
      }
      this.submitBatch(conn); // UPDATEs before this message go first
      return this.onMessage(conn, type, conn.ring.bytes.subarray(off, off + length));
    });
  }

  /** A batch completed while reading was paused: take in what fits now, and read on if all did. */
  private resumeReading(conn: Connection): void {
    if (!conn.paused || conn.closed) return;
    if (!this.onRead(conn) || conn.closed) return;
    conn.paused = false;
    conn.socket.resume();
  }

  private queueUpdate(conn: Connection, off: number, length: number): void {
    this.received.update++;
    this.received.total++;
    this.lastReceivedAt = Date.now();
    // A batch never spans the ring's wrap: its region must be one contiguous range.
    if (conn.region && off < conn.region.end) this.submitBatch(conn);
    if (conn.region) conn.region.end = off + length;
    else conn.region = conn.ring.retain(off, off + length);
    conn.batch.push(off, length);
    if (length === 23 || length === 29 || length === 30) {
      const eor = endOfRibFamily(conn.ring.bytes.subarray(off, off + length));
      if (eor) {
        // Everything before End-of-RIB goes to the RIB first: what EoR triggers comes after.
        this.submitBatch(conn);
        this.onEndOfRib(familyName(eor.afi, eor.safi));
      }
    }
  }

  /** Hands the framed UPDATEs to the RIB; their ring space is free again once it is done. */
  private submitBatch(conn: Connection): void {
    if (!conn.batch.length || !this.ingest) return;
    const descriptors = Uint32Array.from(conn.batch);
    const region = conn.region!;
    conn.batch = [];
    conn.region = null;
    if (conn !== this.conn || this.state !== State.Established) {
      conn.ring.release(region); // the session went down: its routes are flushed anyway
      return;
    }
    let pending: ReturnType<UpdateIngest['submit']>;
    try {
      pending = this.ingest.submit(this, conn.ring.sab, descriptors);
    } catch (err) {
      conn.ring.release(region);
      throw err;
    }
    Promise.resolve(pending).then(
      (result) => {
        try {
          conn.ring.release(region);
          if (result?.error && conn === this.conn && this.state === State.Established) {
            const { code, subcode, data, detail } = result.error;
            this.pendingNotification = new BgpError(code, subcode, Uint8Array.from(data), detail);
            this.recordError('local', code, subcode, detail);
            this.handle(Event.UpdateMsgErr);
          }
          this.resumeReading(conn);
        } catch (err) {
          this.internalError(conn, err, 'batch completion');
        }
      },
      (err: unknown) => {
        conn.ring.release(region);
        this.internalError(conn, err, 'batch submission');
      },
    );
  }

  private count(c: MessageCounters, type: number): void {
    const k = COUNTER_KEY[type];
    if (k) c[k]++;
    c.total++;
  }

  /** Handles one message on the current connection; false stops the framing loop. */
  private onMessage(conn: Connection, type: number, msg: Uint8Array): boolean {
    this.count(this.received, type);
    this.lastReceivedAt = Date.now();
    if (this.traceMessages) log(`${this.name}: received ${MESSAGE_TYPE_NAMES[type]} (${msg.length} octets)`);
    if (type !== MessageType.UPDATE) this.emit('message', 'in', type, this.lastReceivedAt);
    switch (type) {
      case MessageType.OPEN:
        this.onOpen(conn, msg);
        break;
      case MessageType.KEEPALIVE:
        this.handle(Event.KeepAliveMsg);
        break;
      case MessageType.NOTIFICATION:
        this.onNotification(msg);
        break;
      case MessageType.UPDATE:
        this.onUpdate(msg);
        break;
      case MessageType.ROUTE_REFRESH:
        this.onRouteRefresh(msg);
        break;
    }
    return this.conn === conn;
  }

  private onOpen(conn: Connection, msg: Uint8Array): void {
    if (this.state !== State.OpenSent) {
      this.handle(Event.BgpOpen); // unexpected here: the table answers with an FSM error
      return;
    }
    try {
      const open = decodeOpen(msg);
      validateOpen(open, this.local, this.config);
      conn.open = open;
      this.session = negotiate(this.ourOpen, open, this.local, this.config);
      if (this.session.extendedMessage) conn.maxLength = MAX_EXTENDED_MESSAGE_LENGTH;
    } catch (e) {
      if (!(e instanceof BgpError)) throw e;
      this.pendingNotification = e;
      this.recordError('local', e.code, e.subcode, e.message);
      this.handle(Event.BgpOpenMsgErr);
      return;
    }
    this.handle(Event.BgpOpen);
  }

  private onNotification(msg: Uint8Array): void {
    const n = decodeNotification(msg);
    this.noteNotification('received', n);
    // RFC 4271 §8.2.2: a version error in OpenSent/OpenConfirm does not count as a failure.
    const versionError = n.code === ErrorCode.OpenMessage && n.subcode === OpenSubcode.UnsupportedVersionNumber;
    this.handle(versionError && (this.state === State.OpenSent || this.state === State.OpenConfirm) ? Event.NotifMsgVerErr : Event.NotifMsg);
  }

  private onUpdate(msg: Uint8Array): void {
    if (this.state !== State.Established) {
      this.handle(Event.UpdateMsg);
      return;
    }
    this.lastReceivedAt = Date.now();
    const eor = endOfRibFamily(msg);
    if (eor) this.onEndOfRib(familyName(eor.afi, eor.safi));
  }

  private onEndOfRib(family: string): void {
    log(`${this.name}: End-of-RIB received for ${family}`);
    this.emit('endOfRib', family);
  }

  private onRouteRefresh(msg: Uint8Array): void {
    if (msg.length !== 23) {
      // RFC 7313 §5: ROUTE-REFRESH Message Error / Invalid Message Length, with the message.
      this.pendingNotification = new BgpError(ErrorCode.RouteRefreshMessage, 1, msg.slice());
      this.handle(this.state === State.Established ? Event.UpdateMsgErr : Event.RouteRefreshMsg);
      return;
    }
    this.handle(Event.RouteRefreshMsg, msg);
  }

  private onCandidateMessage(conn: Connection, type: number, msg: Uint8Array): boolean {
    if (type === MessageType.NOTIFICATION) {
      this.candidate = null;
      this.releaseConnection(conn);
      return false;
    }
    if (type !== MessageType.OPEN) return true;
    let open: OpenMessage;
    try {
      open = decodeOpen(msg);
      validateOpen(open, this.local, this.config);
    } catch (e) {
      if (!(e instanceof BgpError)) throw e;
      this.candidate = null;
      this.notifyAndClose(conn, e);
      return false;
    }
    // RFC 4271 §6.8: keep the connection opened by the speaker with the higher BGP Identifier.
    const remoteWins = ipv4ToNumber(open.bgpId) > ipv4ToNumber(this.local.routerId);
    const current = this.conn!;
    const keepCandidate = current.direction === 'inbound' || remoteWins;
    this.candidate = null;
    if (!keepCandidate) {
      log(`${this.name}: collision resolved, keeping our connection (our identifier is higher)`);
      this.notifyAndClose(conn, cease(CeaseSubcode.ConnectionCollisionResolution));
      return false;
    }
    log(`${this.name}: collision resolved, keeping the peer's connection`);
    this.notifyAndClose(current, cease(CeaseSubcode.ConnectionCollisionResolution));
    this.conn = null;
    this.stopTimers();
    this.attach(conn);
    this.setState(State.OpenSent, Event.OpenCollisionDump);
    this.holdTimerStart(LARGE_HOLD_TIME_S);
    this.onOpen(conn, msg);
    return this.conn === conn;
  }

  // ---- the FSM -----------------------------------------------------------------------------

  private handle(event: Event, payload?: Uint8Array): void {
    const from = this.state;
    const t = transition(from, event);
    // The new state is logged before its actions so the log reads in causal order.
    if (t.next !== from) this.setState(t.next, event);
    for (const action of t.actions) this.run(action, from, payload);
    this.pendingNotification = null;
    if (t.next === State.Established && from !== State.Established) this.onEstablished();
  }

  private setState(to: State, event: Event): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    if (from === State.Established) {
      log(`${this.name}: session down (${event})`);
      this.ingest?.sessionDown(this, event);
      this.session = null;
    }
    log(`${this.name}: ${from} -> ${to} (${event})`);
    this.emit('state', from, to, event);
  }

  private onEstablished(): void {
    const s = this.session!;
    this.establishedCount++;
    this.establishedAt = Date.now();
    log(
      `${this.name}: Established, hold time ${s.holdTime}s, keepalive ${s.keepalive}s, ` +
        `families ${s.families.join(' ') || 'none'}, peer capabilities ${s.remoteCapabilities.join(' ')}`,
    );
    this.emit('established', s);
  }

  /** Our address on the current connection (next hop self), as the peer sees it. */
  get localAddress(): string | undefined {
    const a = this.conn?.socket.localAddress;
    return a?.startsWith('::ffff:') ? a.slice(7) : a;
  }

  /** Writes `count` encoded UPDATEs at once (Adj-RIB-Out); false when the socket is backed up. */
  sendUpdates(bytes: Uint8Array, count: number): boolean {
    if (this.state !== State.Established || !this.conn) return false;
    this.sent.update += count - 1; // write() counts one
    this.sent.total += count - 1;
    return this.write(this.conn, MessageType.UPDATE, bytes);
  }

  /** Bytes written but not yet taken by the kernel. */
  get outputBacklog(): number {
    return this.conn?.socket.writableLength ?? 0;
  }

  /** True while our own reading is stopped (ring full): the peer is not to blame for silence. */
  get readingPaused(): boolean {
    return this.conn?.paused ?? false;
  }

  private run(action: Action, from: State, payload?: Uint8Array): void {
    switch (action) {
      case Action.ConnectRetryCounterReset:
        this.connectRetryCounter = 0;
        break;
      case Action.ConnectRetryCounterIncrement:
        this.connectRetryCounter++;
        break;
      case Action.ConnectRetryTimerStart: {
        // RFC 4271 §10: jitter the ConnectRetryTimer by 0.75..1.0.
        const ms = this.config.connectRetry * 1000 * (0.75 + Math.random() * 0.25);
        this.setTimer('connectRetry', ms, () => this.handle(Event.ConnectRetryTimerExpires));
        break;
      }
      case Action.ConnectRetryTimerStop:
        this.clearTimer('connectRetry');
        break;
      case Action.Connect:
        this.connect();
        break;
      case Action.DropConnection:
        if (this.conn) this.releaseConnection(this.conn);
        this.dropCandidate(CeaseSubcode.ConnectionCollisionResolution);
        break;
      case Action.SendOpen:
        this.send(MessageType.OPEN, this.ourOpenBytes);
        break;
      case Action.SendKeepalive:
        this.send(MessageType.KEEPALIVE, KEEPALIVE);
        break;
      case Action.SendNotification:
        if (this.pendingNotification) this.sendNotification(this.pendingNotification);
        break;
      case Action.SendFsmError: {
        const sub = from === State.OpenSent ? FsmSubcode.UnexpectedMessageInOpenSent
          : from === State.OpenConfirm ? FsmSubcode.UnexpectedMessageInOpenConfirm
          : from === State.Established ? FsmSubcode.UnexpectedMessageInEstablished
          : FsmSubcode.Unspecified;
        this.sendNotification({ code: ErrorCode.FsmError, subcode: sub, data: new Uint8Array(0) });
        break;
      }
      case Action.SendHoldTimerExpired:
        this.recordError('local', ErrorCode.HoldTimerExpired, 0, 'Hold Timer Expired');
        this.sendNotification({ code: ErrorCode.HoldTimerExpired, subcode: 0, data: new Uint8Array(0) });
        break;
      case Action.SendSendHoldTimerExpired:
        this.recordError('local', ErrorCode.SendHoldTimerExpired, 0, 'Send Hold Timer Expired: the peer stopped reading');
        this.sendNotification({ code: ErrorCode.SendHoldTimerExpired, subcode: 0, data: new Uint8Array(0) });
        // RFC 9687 §4: the peer is not reading, so nothing more can reach it; close now.
        this.conn?.socket.destroy();
        break;
      case Action.SendCollisionCease:
        this.sendNotification(cease(CeaseSubcode.ConnectionCollisionResolution));
        break;
      case Action.HoldTimerStartLarge:
        this.holdTimerStart(LARGE_HOLD_TIME_S);
        break;
      case Action.HoldTimerStartNegotiated:
        this.holdTimerStart(this.session?.holdTime ?? 0);
        break;
      case Action.HoldTimerRestart:
        this.lastReceivedAt = Date.now();
        break;
      case Action.KeepaliveTimerStart:
        if (this.session && this.session.keepalive > 0) {
          this.setTimer('keepalive', this.session.keepalive * 1000, () => this.handle(Event.KeepaliveTimerExpires));
        }
        break;
      case Action.StopTimers:
        this.stopTimers();
        break;
      case Action.IdleHoldStart:
        this.idleHoldStart();
        break;
      case Action.SessionUp:
        this.sessionUp();
        break;
      case Action.ProcessUpdate:
        break; // onUpdate hands the bytes on after the FSM accepted them
      case Action.ProcessRouteRefresh:
        if (payload) this.processRouteRefresh(payload);
        break;
    }
  }

  private sessionUp(): void {
    // The RIB sends the initial table and then End-of-RIB; without one the table is empty and
    // End-of-RIB follows at once for every negotiated family (RFC 4724 §2).
    if (this.ingest) {
      this.ingest.sessionUp(this);
      return;
    }
    this.sendEndOfRib();
  }

  sendEndOfRib(): void {
    for (const f of this.session!.families) {
      const [afi, safi] = f === 'ipv6-unicast' ? [2, 1] : [1, 1];
      this.send(MessageType.UPDATE, encodeEndOfRib({ afi, safi }));
    }
  }

  private processRouteRefresh(msg: Uint8Array): void {
    const rr = decodeRouteRefresh(msg);
    if (!this.config.routeRefresh) {
      log(`${this.name}: ROUTE-REFRESH ignored: we did not advertise the capability (RFC 2918 §4)`);
      return;
    }
    this.emit('routeRefresh', rr.afi, rr.safi, rr.subtype);
    if (rr.subtype !== RouteRefreshSubtype.Normal) return;
    // Answer from the Adj-RIB-Out, bracketed by BoRR/EoRR when enhanced refresh is negotiated
    // (RFC 7313 §4): the peer then drops whatever the re-sent table no longer holds.
    const enhanced = this.session?.enhancedRouteRefresh ?? false;
    if (enhanced) this.send(MessageType.ROUTE_REFRESH, encodeRouteRefresh({ ...rr, subtype: RouteRefreshSubtype.BoRR }));
    this.ingest?.resend(this, rr.afi === 2 ? 'ipv6-unicast' : 'ipv4-unicast');
    if (enhanced) this.send(MessageType.ROUTE_REFRESH, encodeRouteRefresh({ ...rr, subtype: RouteRefreshSubtype.EoRR }));
  }

  private idleHoldStart(): void {
    if (!this.enabled) return;
    if (this.establishedAt && Date.now() - this.establishedAt >= STABLE_SESSION_MS) this.failures = 0;
    this.establishedAt = 0;
    this.failures++;
    const base = this.config.idleHoldTime * 1000;
    const ms = this.idleHoldOverrideMs ?? Math.min(base * 2 ** (this.failures - 1), this.config.idleHoldMax * 1000);
    this.idleHoldOverrideMs = null;
    log(`${this.name}: idle hold ${Math.round(ms / 100) / 10}s (failure ${this.failures})`);
    this.setTimer('idleHold', ms, () => {
      if (this.enabled && this.state === State.Idle) {
        this.handle(this.config.passive ? Event.AutomaticStartPassive : Event.AutomaticStart);
      }
    });
  }

  // ---- timers ------------------------------------------------------------------------------

  private setTimer(name: keyof Neighbor['timers'], ms: number, fn: () => void): void {
    this.clearTimer(name);
    this.timers[name] = setTimeout(() => {
      this.timers[name] = null;
      try {
        fn();
      } catch (err) {
        this.internalError(null, err, `${name} timer`);
      }
    }, ms);
  }

  private clearTimer(name: keyof Neighbor['timers']): void {
    const t = this.timers[name];
    if (t) clearTimeout(t);
    this.timers[name] = null;
  }

  private stopTimers(): void {
    for (const name of ['connectRetry', 'hold', 'keepalive', 'sendHold'] as const) this.clearTimer(name);
  }

  /** The hold timer checks a deadline rather than being re-armed on every message. */
  private holdTimerStart(seconds: number): void {
    this.clearTimer('hold');
    this.holdMs = seconds * 1000;
    this.lastReceivedAt = Date.now();
    if (seconds === 0) return;
    const check = () => {
      // While we do not read (backpressure), the peer's KEEPALIVEs wait in our socket.
      if (this.readingPaused) this.lastReceivedAt = Date.now();
      const left = this.lastReceivedAt + this.holdMs - Date.now();
      if (left > 0) this.setTimer('hold', left, check);
      else this.handle(Event.HoldTimerExpires);
    };
    this.setTimer('hold', this.holdMs, check);
  }

  // ---- sending -----------------------------------------------------------------------------

  private send(type: MessageType, bytes: Uint8Array): boolean {
    if (!this.conn || this.conn.closed) return false;
    return this.write(this.conn, type, bytes);
  }

  private write(conn: Connection, type: MessageType, bytes: Uint8Array): boolean {
    if (conn.closed || conn.socket.destroyed) return false;
    const flushed = conn.socket.write(bytes);
    if (conn === this.conn) {
      this.count(this.sent, type);
      this.emit('message', 'out', type, Date.now());
      if (!flushed && !this.timers.sendHold) {
        const ms = (this.config.sendHoldTime ?? Math.max(MIN_SEND_HOLD_TIME_S, 2 * (this.session?.holdTime ?? 0))) * 1000;
        this.setTimer('sendHold', ms, () => {
          if (this.conn && this.conn.socket.writableLength > 0) this.handle(Event.SendHoldTimerExpires);
        });
      }
    }
    return flushed;
  }

  private sendNotification(n: NotificationMessage): void {
    if (!this.conn) return;
    this.write(this.conn, MessageType.NOTIFICATION, encodeNotification(n));
    this.noteNotification('sent', n);
  }

  private noteNotification(direction: 'sent' | 'received', n: NotificationMessage): void {
    const text = describeNotification(n);
    log(`${this.name}: NOTIFICATION ${direction}: ${text}`);
    this.recordError(direction, n.code, n.subcode, text);
    this.emit('notification', direction, n);
  }

  private recordError(direction: LastError['direction'], code: number, subcode: number, text: string): void {
    this.lastError = { direction, code, subcode, text, at: Date.now() };
  }

  // ---- internal errors ---------------------------------------------------------------------

  /**
   * An exception nothing expected, from one of this neighbor's events: never the process's
   * end. It is counted and logged once, and resets the session it hit with Cease / Out of
   * Resources (RFC 4486); `conn` null means the session itself (its timers). The back-off
   * restarts it as after any other error.
   */
  /** An unexpected error in work done for this session elsewhere (the RIB, the Adj-RIB-Out): it alone is reset. */
  reportInternalError(err: unknown, where: string): void {
    this.internalError(this.conn, err, where);
  }

  private internalError(conn: Connection | null, err: unknown, where: string): void {
    try {
      const text = this.noteInternalError(err, where, 'resetting the session');
      if (this.resetting) {
        // Resetting threw again: close what is left without the FSM.
        this.forceDown(conn);
        return;
      }
      this.resetting = true;
      try {
        this.reset(conn, text);
      } catch (again) {
        log(`${this.name}: reset failed (${(again as Error)?.message ?? String(again)}), closing the connection`);
        this.forceDown(conn);
      } finally {
        this.resetting = false;
      }
    } catch {
      // Nothing more can be done for this neighbor; the process goes on.
    }
  }

  /** Counts and logs (one line) an internal error; returns its text for lastError. */
  private noteInternalError(err: unknown, where: string, consequence: string): string {
    this.internalErrors++;
    const e = err as Error | undefined;
    const frames = typeof e?.stack === 'string' ? e.stack.split('\n').slice(1, 4).map((l) => l.trim()).join(' < ') : '';
    const text = `internal error in ${where}: ${e?.message ?? String(err)}`;
    log(`${this.name}: ${text}, ${consequence}${frames ? ` (${frames})` : ''}`);
    return text;
  }

  private reset(conn: Connection | null, text: string): void {
    const n: NotificationMessage = { code: ErrorCode.Cease, subcode: CeaseSubcode.OutOfResources, data: new Uint8Array(0) };
    if (conn && conn === this.candidate) {
      this.candidate = null;
      this.notifyAndClose(conn, n);
      return;
    }
    if (conn && conn !== this.conn) {
      // A connection the session no longer uses.
      if (!conn.closed) this.notifyAndClose(conn, n);
      return;
    }
    this.recordError('local', n.code, n.subcode, text);
    if (this.state !== State.Idle) {
      this.pendingNotification = n;
      this.handle(Event.AutomaticStop);
    }
    // A transition the exception cut short may have left a connection or no restart behind.
    if (this.state !== State.Idle) return;
    const left = this.conn;
    if (left) {
      this.conn = null;
      this.notifyAndClose(left, n);
    }
    if (this.enabled && !this.timers.idleHold) this.idleHoldStart();
  }

  /** The last resort when the FSM itself throws: close the connections, Idle, restart later. */
  private forceDown(conn: Connection | null): void {
    const attempt = (fn: () => void) => {
      try {
        fn();
      } catch {
        // keep going: each step stands alone
      }
    };
    this.pendingNotification = null;
    if (conn && !conn.closed) attempt(() => conn.socket.destroy());
    if (conn && conn === this.candidate) {
      this.candidate = null;
      return;
    }
    if (conn && conn !== this.conn) return;
    attempt(() => this.stopTimers());
    const current = this.conn;
    this.conn = null;
    if (current) attempt(() => this.releaseConnection(current));
    if (this.state !== State.Idle) {
      const from = this.state;
      this.state = State.Idle;
      if (from === State.Established) attempt(() => this.ingest?.sessionDown(this, Event.AutomaticStop));
      this.session = null;
      attempt(() => this.emit('state', from, State.Idle, Event.AutomaticStop));
    }
    attempt(() => {
      if (this.enabled && !this.timers.idleHold) this.idleHoldStart();
    });
  }

  /** Stops everything without a NOTIFICATION (process exit after stop()). */
  destroy(): void {
    this.enabled = false;
    for (const name of Object.keys(this.timers) as Array<keyof Neighbor['timers']>) this.clearTimer(name);
    this.conn?.socket.destroy();
    this.candidate?.socket.destroy();
  }
}
