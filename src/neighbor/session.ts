// The state one session keeps, whatever it is doing: identity, counters, its connections (the
// current one and a colliding candidate, RFC 4271 §6.8), its timers, and its output: every
// message it sends goes through write() here, where it is counted and the Send Hold Timer
// (RFC 9687) watches the socket. The FSM (neighbor.ts) and the receive path (receive.ts) build
// on it.

import { EventEmitter } from 'node:events';
import type { NeighborConfig } from '../config/schema.js';
import { DEFAULT_RING_BYTES } from '../io/ring.js';
import { log } from '../log.js';
import {
  cease,
  CeaseSubcode,
  describeNotification,
  encodeNotification,
  encodeOpen,
  encodeRouteRefresh,
  MessageType,
  RouteRefreshSubtype,
  type NotificationMessage,
  type OpenMessage,
} from '../packet/index.js';
import type { Connection } from './connection.js';
import type { Neighbor } from './neighbor.js';
import { Event, State } from './fsm.js';
import { localOpen, type LocalIdentity, type NegotiatedSession } from './negotiate.js';
import { Timers, type TimerName } from './timers.js';
import { count, zeroCounters, type EventData, type LastError, type MessageTap, type NeighborEvents, type UpdateIngest } from './types.js';

export abstract class Session extends EventEmitter<NeighborEvents> {
  state: State = State.Idle;

  /** The session is Established (RFC 4271 §8): routes may be exchanged. */
  get established(): boolean {
    return this.state === State.Established;
  }
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
  /** Sees every message received (MRT update logs, BMP); null when nobody looks. */
  messageTap: MessageTap | null = null;
  /** Size of each connection's receive ring; applies to connections made after a change. */
  ringBytes = DEFAULT_RING_BYTES;
  /**
   * Unexpected exceptions on this neighbor's events (its bytes, socket, timers, the RIB's
   * answers), each of which reset the session instead of ending the process.
   */
  internalErrors = 0;

  protected conn: Connection | null = null;
  /** An inbound connection that arrived while `conn` was in OpenSent/OpenConfirm (RFC 4271 §6.8). */
  protected candidate: Connection | null = null;
  protected ourOpen: OpenMessage;
  protected ourOpenBytes: Uint8Array;
  protected enabled = false;
  /** An internal error is being handled: one arising meanwhile only closes what is left. */
  protected resetting = false;
  protected readonly timers: Timers;

  private current: NeighborConfig;

  constructor(
    config: NeighborConfig,
    readonly local: LocalIdentity,
  ) {
    super();
    this.current = config;
    this.ringBytes = config.receiveBuffer ?? DEFAULT_RING_BYTES;
    this.ourOpen = localOpen(local, config);
    this.ourOpenBytes = encodeOpen(this.ourOpen);
    this.timers = new Timers(config, {
      expired: (event) => this.handle(event),
      failed: (err, where) => this.internalError(null, err, where),
      readingPaused: () => this.readingPaused,
    });
  }

  /** The neighbor's configuration: the one it was built with, or the last reconfigure(). */
  get config(): NeighborConfig {
    return this.current;
  }

  /**
   * A new configuration for this neighbor (a reload). The OPEN we send and the timers follow
   * it from the next connection on; a change the current session must see at once (its OPEN,
   * its policies) is for the caller to reset, refresh or resend.
   */
  reconfigure(config: NeighborConfig): void {
    this.current = config;
    this.ourOpen = localOpen(this.local, config);
    this.ourOpenBytes = encodeOpen(this.ourOpen);
    this.timers.config = config;
    this.ringBytes = config.receiveBuffer ?? DEFAULT_RING_BYTES;
  }

  get name(): string {
    const d = this.config.description ? ` (${this.config.description})` : '';
    return `neighbor ${this.config.address} AS${this.config.remoteAs}${d}`;
  }

  /** Our address on the current connection (next hop self), as the peer sees it. */
  get localAddress(): string | undefined {
    return this.conn?.localAddress;
  }

  /** The current connection's TCP ports, ours and the peer's (BMP Peer Up). */
  get ports(): { local: number; remote: number } | null {
    const s = this.conn?.socket;
    return s ? { local: s.localPort ?? 0, remote: s.remotePort ?? 0 } : null;
  }

  /** Bytes written but not yet taken by the kernel. */
  get outputBacklog(): number {
    return this.conn?.backlog ?? 0;
  }

  /** False once the operator (or a max-prefix `disable`) stopped it: FRR's "Idle (Admin)". */
  get adminUp(): boolean {
    return this.enabled;
  }

  /** The OPEN we send, and the one the peer sent on the current connection. */
  get localOpen(): OpenMessage {
    return this.ourOpen;
  }

  get peerOpen(): OpenMessage | null {
    return this.conn?.open ?? null;
  }

  /** Both OPENs as sent, header included: ours, and the peer's on the current connection. */
  get localOpenBytes(): Uint8Array {
    return this.ourOpenBytes;
  }

  get peerOpenBytes(): Uint8Array | null {
    return this.conn?.openBytes ?? null;
  }

  /**
   * Soft reset in (RFC 2918): asks the peer for its table of `family` again. False when the
   * session is not up or the peer did not announce route refresh.
   */
  requestRefresh(family: string): boolean {
    const s = this.session;
    if (this.state !== State.Established || !s?.routeRefresh || !s.families.includes(family)) return false;
    const [afi, safi] = family === 'ipv6-unicast' ? [2, 1] : [1, 1];
    return this.send(MessageType.ROUTE_REFRESH, encodeRouteRefresh({ afi, safi, subtype: RouteRefreshSubtype.Normal }));
  }

  /** Soft reset out: the whole Adj-RIB-Out of `family` again. False when the session is not up. */
  resendTable(family: string): boolean {
    if (this.state !== State.Established || !this.session?.families.includes(family)) return false;
    this.ingest?.resend(this as unknown as Neighbor, family); // the only concrete session
    return true;
  }

  /** True while our own reading is stopped (ring full): the peer is not to blame for silence. */
  get readingPaused(): boolean {
    return this.conn?.paused ?? false;
  }

  /** Runs one FSM event with what it brings (neighbor.ts). */
  protected abstract handle(event: Event, data?: EventData): void;
  /** Resets the session (or only `conn`, when not current) after an unexpected exception. */
  protected abstract internalError(conn: Connection | null, err: unknown, where: string): void;

  /** Starts one of the session's timers; a throw in `fn` resets the session. */
  protected setTimer(name: TimerName, ms: number, fn: () => void): void {
    this.timers.set(name, ms, fn);
  }

  /** Wraps a callback of one connection (null: of the session) so a throw resets only it. */
  protected guard<A extends unknown[]>(conn: Connection | null, what: string, fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (err) {
        this.internalError(conn, err, what);
      }
    };
  }

  // ---- connections -------------------------------------------------------------------------

  protected attach(conn: Connection): void {
    this.conn = conn;
    this.wire(conn);
  }

  protected wire(conn: Connection): void {
    conn.listen({
      error: this.guard(conn, 'socket error', (err: Error) => {
        if (conn === this.conn && this.state !== State.Connect && this.state !== State.Active) {
          this.recordError('local', 0, 0, `connection error: ${err.message}`);
        }
      }),
      close: () => {
        if (conn === this.candidate) this.candidate = null;
        if (conn === this.conn) {
          this.conn = null;
          // The connection is gone already: what fails now is the session's to reset.
          this.guard(null, 'connection close', () => this.handle(Event.TcpConnectionFails))();
        }
      },
      drain: this.guard(conn, 'socket drain', () => {
        if (conn !== this.conn) return;
        this.timers.clear('sendHold');
        this.emit('drain');
      }),
    });
  }

  protected releaseConnection(conn: Connection): void {
    if (this.conn === conn) this.conn = null;
    conn.socket.removeAllListeners('close');
    conn.close();
  }

  protected notifyAndClose(conn: Connection, n: NotificationMessage): void {
    this.write(conn, MessageType.NOTIFICATION, encodeNotification(n));
    this.noteNotification('sent', n);
    conn.socket.removeAllListeners('close');
    conn.close();
  }

  protected dropCandidate(subcode: CeaseSubcode, text?: string): void {
    if (!this.candidate) return;
    const c = this.candidate;
    this.candidate = null;
    this.notifyAndClose(c, cease(subcode, text));
  }

  // ---- sending -----------------------------------------------------------------------------

  protected send(type: MessageType, bytes: Uint8Array): boolean {
    if (!this.conn || this.conn.closed) return false;
    return this.write(this.conn, type, bytes);
  }

  protected write(conn: Connection, type: MessageType, bytes: Uint8Array): boolean {
    if (!conn.writable) return false;
    const flushed = conn.write(bytes);
    if (conn === this.conn) {
      count(this.sent, type);
      this.emit('message', 'out', type, Date.now());
      if (!flushed) this.timers.sendHoldStart(this.session?.holdTime ?? 0, () => this.conn !== null && this.conn.backlog > 0);
    }
    return flushed;
  }

  protected sendNotification(n: NotificationMessage): void {
    if (!this.conn) return;
    this.write(this.conn, MessageType.NOTIFICATION, encodeNotification(n));
    this.noteNotification('sent', n);
  }

  protected noteNotification(direction: 'sent' | 'received', n: NotificationMessage): void {
    const text = describeNotification(n);
    log(`${this.name}: NOTIFICATION ${direction}: ${text}`);
    this.recordError(direction, n.code, n.subcode, text);
    this.emit('notification', direction, n);
  }

  protected recordError(direction: LastError['direction'], code: number, subcode: number, text: string): void {
    this.lastError = { direction, code, subcode, text, at: Date.now() };
  }
}
