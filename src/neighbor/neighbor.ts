// One BGP neighbor (RFC 4271 §8): the FSM table (fsm.ts) driving its connections and timers,
// on the main thread. The operator starts and stops it; the speaker hands it inbound
// connections. What it receives is in receive.ts, what it keeps and sends in session.ts, one
// TCP connection in connection.ts, its timers in timers.ts. README.md describes the folder.

import net from 'node:net';
import { log } from '../log.js';
import {
  cease,
  CeaseSubcode,
  decodeRouteRefresh,
  encodeEndOfRib,
  encodeRouteRefresh,
  ErrorCode,
  FsmSubcode,
  KEEPALIVE,
  MessageType,
  RouteRefreshSubtype,
  type NotificationMessage,
} from '../packet/index.js';
import { Connection } from './connection.js';
import { Action, Event, State, transition } from './fsm.js';
import { Receiver } from './receive.js';
import { LARGE_HOLD_TIME_S } from './timers.js';
import type { EventData } from './types.js';

export type { LastError, MessageCounters, MessageTap, NeighborEvents, UpdateIngest } from './types.js';

export class Neighbor extends Receiver {
  // ---- operator interface ----------------------------------------------------------------

  /** ManualStart (or its passive variant). */
  start(): void {
    this.enabled = true;
    this.timers.resetBackoff();
    this.handle(this.config.passive ? Event.ManualStartPassive : Event.ManualStart);
  }

  /** ManualStop: Cease / Administrative Shutdown (or `subcode`) with an RFC 9003 shutdown communication. */
  stop(text?: string, subcode = CeaseSubcode.AdministrativeShutdown): void {
    this.enabled = false;
    this.timers.clear('idleHold');
    this.handle(Event.ManualStop, { notification: cease(subcode, text) });
    this.dropCandidate(subcode, text);
  }

  /** Cease / Administrative Reset (or `subcode`, RFC 4486), then starts again: FRR's `clear bgp ADDRESS`. */
  clear(text?: string, subcode = CeaseSubcode.AdministrativeReset): void {
    this.handle(Event.ManualStop, { notification: cease(subcode, text) });
    this.dropCandidate(subcode, text);
    this.start();
  }

  /**
   * AutomaticStop with a Cease subcode (e.g. maximum prefixes reached). `restartAfter`:
   * seconds until the session may come back, or null to stay down until started again.
   */
  automaticStop(subcode: CeaseSubcode, text?: string, restartAfter?: number | null): void {
    if (restartAfter === null) this.enabled = false;
    else if (restartAfter !== undefined) this.timers.overrideIdleHold(restartAfter);
    this.handle(Event.AutomaticStop, { notification: cease(subcode, text) });
  }

  /** Writes `count` encoded UPDATEs at once (Adj-RIB-Out); false when the socket is backed up. */
  sendUpdates(bytes: Uint8Array, count: number): boolean {
    if (this.state !== State.Established || !this.conn) return false;
    this.sent.update += count - 1; // write() counts one
    this.sent.total += count - 1;
    return this.write(this.conn, MessageType.UPDATE, bytes);
  }

  sendEndOfRib(): void {
    for (const f of this.session!.families) {
      const [afi, safi] = f === 'ipv6-unicast' ? [2, 1] : [1, 1];
      this.send(MessageType.UPDATE, encodeEndOfRib({ afi, safi }));
    }
  }

  /** Stops everything without a NOTIFICATION (process exit after stop()). */
  destroy(): void {
    this.enabled = false;
    this.timers.clearAll();
    this.conn?.socket.destroy();
    this.candidate?.socket.destroy();
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
      const c = (conn = new Connection('inbound', this.ringBytes));
      c.takeOver(accepted, this.reader(c));
      this.accept(c);
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
    conn.dial({ host: this.config.address, port: this.config.port, localAddress: this.config.localAddress }, this.reader(conn));
    this.attach(conn);
    conn.socket.once(
      'connect',
      this.guard(conn, 'connect', () => {
        if (this.conn === conn) this.handle(Event.TcpCrAcked);
      }),
    );
  }

  // ---- the FSM -----------------------------------------------------------------------------

  /** Runs one event through the table; `data` is what the event brings to its actions. */
  protected handle(event: Event, data: EventData = {}): void {
    const from = this.state;
    const t = transition(from, event);
    // The new state is logged before its actions so the log reads in causal order.
    if (t.next !== from) this.setState(t.next, event);
    for (const action of t.actions) this.run(action, from, data);
    if (t.next === State.Established && from !== State.Established) this.onEstablished();
  }

  protected setState(to: State, event: Event): void {
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

  private run(action: Action, from: State, data: EventData): void {
    switch (action) {
      case Action.ConnectRetryCounterReset:
        this.connectRetryCounter = 0;
        break;
      case Action.ConnectRetryCounterIncrement:
        this.connectRetryCounter++;
        break;
      case Action.ConnectRetryTimerStart:
        this.timers.connectRetryStart();
        break;
      case Action.ConnectRetryTimerStop:
        this.timers.clear('connectRetry');
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
        if (data.notification) this.sendNotification(data.notification);
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
        this.timers.holdStart(LARGE_HOLD_TIME_S);
        break;
      case Action.HoldTimerStartNegotiated:
        this.timers.holdStart(this.session?.holdTime ?? 0);
        break;
      case Action.HoldTimerRestart:
        this.timers.heard();
        break;
      case Action.KeepaliveTimerStart:
        if (this.session) this.timers.keepaliveStart(this.session.keepalive);
        break;
      case Action.StopTimers:
        this.timers.stop();
        break;
      case Action.IdleHoldStart:
        this.idleHoldStart();
        break;
      case Action.SessionUp:
        this.sessionUp();
        break;
      case Action.ProcessUpdate:
        break; // receive.ts hands the bytes on after the FSM accepted them
      case Action.ProcessRouteRefresh:
        if (data.message) this.processRouteRefresh(data.message);
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

  /** The idle hold before the automatic restart, longer after each failure (timers.ts). */
  private idleHoldStart(): void {
    if (!this.enabled) return;
    const { ms, failures } = this.timers.nextIdleHold(this.establishedAt);
    this.establishedAt = 0;
    log(`${this.name}: idle hold ${Math.round(ms / 100) / 10}s (failure ${failures})`);
    this.setTimer('idleHold', ms, () => {
      if (this.enabled && this.state === State.Idle) {
        this.handle(this.config.passive ? Event.AutomaticStartPassive : Event.AutomaticStart);
      }
    });
  }

  // ---- internal errors ---------------------------------------------------------------------

  /** An unexpected error in work done for this session elsewhere (the RIB, the Adj-RIB-Out): it alone is reset. */
  reportInternalError(err: unknown, where: string): void {
    this.internalError(this.conn, err, where);
  }

  /**
   * An exception nothing expected, from one of this neighbor's events: never the process's
   * end. It is counted and logged once, and resets the session it hit with Cease / Out of
   * Resources (RFC 4486); `conn` null means the session itself (its timers). The back-off
   * restarts it as after any other error.
   */
  protected internalError(conn: Connection | null, err: unknown, where: string): void {
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
    if (this.state !== State.Idle) this.handle(Event.AutomaticStop, { notification: n });
    // A transition the exception cut short may have left a connection or no restart behind.
    if (this.state !== State.Idle) return;
    const left = this.conn;
    if (left) {
      this.conn = null;
      this.notifyAndClose(left, n);
    }
    if (this.enabled && !this.timers.running('idleHold')) this.idleHoldStart();
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
    if (conn && !conn.closed) attempt(() => conn.socket.destroy());
    if (conn && conn === this.candidate) {
      this.candidate = null;
      return;
    }
    if (conn && conn !== this.conn) return;
    attempt(() => this.timers.stop());
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
      if (this.enabled && !this.timers.running('idleHold')) this.idleHoldStart();
    });
  }
}
