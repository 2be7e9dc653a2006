// What a session receives (RFC 4271 §4, §6): framed messages from its connection become FSM
// events, UPDATEs go in batches to the RIB (the UpdateIngest hand-off), errors become the
// NOTIFICATION the event carries. A colliding connection's OPEN is judged here (§6.8).

import { log } from '../log.js';
import {
  BgpError,
  cease,
  CeaseSubcode,
  decodeNotification,
  decodeOpen,
  endOfRibFamily,
  ErrorCode,
  familyName,
  ipv4ToNumber,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MESSAGE_TYPE_NAMES,
  MessageType,
  OpenSubcode,
  type OpenMessage,
} from '../packet/index.js';
import type { Connection, Reader, Region } from './connection.js';
import { Event, State } from './fsm.js';
import type { Neighbor } from './neighbor.js';
import { negotiate, validateOpen } from './negotiate.js';
import { Session } from './session.js';
import { LARGE_HOLD_TIME_S } from './timers.js';
import { count, type UpdateIngest } from './types.js';

export abstract class Receiver extends Session {
  /** Enters `to` without the table (a collision dumps the old connection for the new one). */
  protected abstract setState(to: State, event: Event): void;

  /** The socket's read path: ring, parking and framing, none of it able to throw out. */
  protected reader(conn: Connection): Reader {
    return {
      received: () => this.onRead(conn),
      failed: (err) => this.internalError(conn, err, 'reading'),
    };
  }

  /** Bytes arrived (in the ring, or parked when it had no room): frame them. False pauses reading. */
  private onRead(conn: Connection): boolean {
    try {
      return conn.pump(() => {
        this.frame(conn);
        // Each read's UPDATEs go to the workers at once: waiting to fill larger batches was
        // measured slower (the workers idle meanwhile).
        this.submitBatch(conn);
      });
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
        this.recordError('local', err.code, err.subcode, err.message);
        this.handle(Event.BgpHeaderErr, { notification: err });
      }
      return false;
    }
  }

  /** Frames the complete messages in the ring; throws a bad header's NOTIFICATION. */
  private frame(conn: Connection): void {
    conn.frame((off, length, type) => {
      if (conn === this.candidate) return this.onCandidateMessage(conn, type, conn.message(off, length));
      if (type === MessageType.UPDATE && this.ingest && this.state === State.Established) {
        this.queueUpdate(conn, off, length);
        return true;
      }
      this.submitBatch(conn); // UPDATEs before this message go first
      return this.onMessage(conn, type, conn.message(off, length));
    });
  }

  /** A batch completed while reading was paused: take in what fits now, and read on if all did. */
  private resumeReading(conn: Connection): void {
    if (!conn.paused || conn.closed) return;
    if (!this.onRead(conn) || conn.closed) return;
    conn.paused = false;
    conn.socket.resume();
  }

  // ---- the UpdateIngest hand-off -----------------------------------------------------------

  private queueUpdate(conn: Connection, off: number, length: number): void {
    this.received.update++;
    this.received.total++;
    this.timers.heard();
    this.messageTap?.(this as unknown as Neighbor, conn.message(off, length)); // the only concrete session
    // A batch never spans the ring's wrap: its region must be one contiguous range.
    if (conn.batchWraps(off)) this.submitBatch(conn);
    conn.addToBatch(off, length);
    if (length === 23 || length === 29 || length === 30) {
      const eor = endOfRibFamily(conn.message(off, length));
      if (eor) {
        // Everything before End-of-RIB goes to the RIB first: what EoR triggers comes after.
        this.submitBatch(conn);
        this.onEndOfRib(familyName(eor.afi, eor.safi));
      }
    }
  }

  /** Hands the framed UPDATEs to the RIB; their ring space is free again once it is done. */
  private submitBatch(conn: Connection): void {
    if (conn.batchEmpty || !this.ingest) return;
    const { descriptors, region } = conn.takeBatch();
    if (conn !== this.conn || this.state !== State.Established) {
      conn.ring.release(region); // the session went down: its routes are flushed anyway
      return;
    }
    let pending: ReturnType<UpdateIngest['submit']>;
    try {
      pending = this.ingest.submit(this as unknown as Neighbor, conn.ring.sab, descriptors); // the only concrete session
    } catch (err) {
      conn.ring.release(region);
      throw err;
    }
    Promise.resolve(pending).then(
      (result) => this.batchDone(conn, region, result),
      (err: unknown) => {
        conn.ring.release(region);
        this.internalError(conn, err, 'batch submission');
      },
    );
  }

  private batchDone(conn: Connection, region: Region, result: Awaited<ReturnType<UpdateIngest['submit']>>): void {
    try {
      conn.ring.release(region);
      if (result?.error && conn === this.conn && this.state === State.Established) {
        const { code, subcode, data, detail } = result.error;
        this.recordError('local', code, subcode, detail);
        this.handle(Event.UpdateMsgErr, { notification: new BgpError(code, subcode, Uint8Array.from(data), detail) });
      }
      this.resumeReading(conn);
    } catch (err) {
      this.internalError(conn, err, 'batch completion');
    }
  }

  // ---- messages on the current connection --------------------------------------------------

  /** Handles one message on the current connection; false stops the framing loop. */
  private onMessage(conn: Connection, type: number, msg: Uint8Array): boolean {
    count(this.received, type);
    const at = this.timers.heard();
    if (this.traceMessages) log(`${this.name}: received ${MESSAGE_TYPE_NAMES[type]} (${msg.length} octets)`);
    if (type !== MessageType.UPDATE) this.emit('message', 'in', type, at);
    this.messageTap?.(this as unknown as Neighbor, msg); // the only concrete session
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

  /** RFC 4271 §6.2: the peer's OPEN, checked and negotiated with ours. */
  private onOpen(conn: Connection, msg: Uint8Array): void {
    if (this.state !== State.OpenSent) {
      this.handle(Event.BgpOpen); // unexpected here: the table answers with an FSM error
      return;
    }
    try {
      const open = decodeOpen(msg);
      validateOpen(open, this.local, this.config);
      conn.open = open;
      conn.openBytes = Uint8Array.from(msg);
      this.session = negotiate(this.ourOpen, open, this.local, this.config);
      if (this.session.extendedMessage) conn.maxLength = MAX_EXTENDED_MESSAGE_LENGTH;
    } catch (e) {
      if (!(e instanceof BgpError)) throw e;
      this.recordError('local', e.code, e.subcode, e.message);
      this.handle(Event.BgpOpenMsgErr, { notification: e });
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
    this.timers.heard();
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
      if (this.state === State.Established) {
        this.handle(Event.UpdateMsgErr, { notification: new BgpError(ErrorCode.RouteRefreshMessage, 1, msg.slice()) });
      } else {
        this.handle(Event.RouteRefreshMsg);
      }
      return;
    }
    this.handle(Event.RouteRefreshMsg, { message: msg });
  }

  // ---- connection collision (RFC 4271 §6.8) ------------------------------------------------

  /** A message on the colliding connection: its OPEN decides which connection stays. */
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
    this.timers.stop();
    this.attach(conn);
    this.setState(State.OpenSent, Event.OpenCollisionDump);
    this.timers.holdStart(LARGE_HOLD_TIME_S);
    this.onOpen(conn, msg);
    return this.conn === conn;
  }
}
