// A session's timers (RFC 4271 §10): ConnectRetry, Hold, Keepalive, the Send Hold Timer of
// RFC 9687, and the idle hold: the growing wait before an automatic restart after a failure
// (RFC 4271 §8.1.1, DampPeerOscillations). Expiry raises the FSM event; the FSM decides.

import type { NeighborConfig } from '../config/schema.js';
import { Event } from './fsm.js';

/** RFC 4271 §8: the hold timer while waiting for the peer's OPEN. */
export const LARGE_HOLD_TIME_S = 240;
/** RFC 9687 §4: at least eight minutes unless configured. */
const MIN_SEND_HOLD_TIME_S = 480;
/** A session that stayed up this long wipes out the back-off of earlier failures. */
const STABLE_SESSION_MS = 60_000;

export type TimerName = 'connectRetry' | 'hold' | 'keepalive' | 'idleHold' | 'sendHold';

export interface TimerOwner {
  /** A timer ran out and raises this FSM event. */
  expired(event: Event): void;
  /** A timer's callback threw. */
  failed(err: unknown, where: string): void;
  /** True while our own reading is stopped: the peer's KEEPALIVEs wait in our socket. */
  readingPaused(): boolean;
}

export class Timers {
  private readonly timers: Record<TimerName, NodeJS.Timeout | null> = {
    connectRetry: null,
    hold: null,
    keepalive: null,
    idleHold: null,
    sendHold: null,
  };
  /** When the peer was last heard from: the Hold Timer checks this deadline. */
  private lastReceivedAt = 0;
  private holdMs = 0;
  /** Failures since the last stable session: each doubles the idle hold, up to its maximum. */
  private failures = 0;
  /** The next idle hold, when an AutomaticStop set one. */
  private idleHoldOverrideMs: number | null = null;

  constructor(
    /** Read when each timer starts: a reload replaces it (Session.reconfigure). */
    public config: NeighborConfig,
    private readonly owner: TimerOwner,
  ) {}

  /** Runs `fn` after `ms`, replacing the timer of that name; a throw goes to the owner. */
  set(name: TimerName, ms: number, fn: () => void): void {
    this.clear(name);
    this.timers[name] = setTimeout(() => {
      this.timers[name] = null;
      try {
        fn();
      } catch (err) {
        this.owner.failed(err, `${name} timer`);
      }
    }, ms);
  }

  clear(name: TimerName): void {
    const t = this.timers[name];
    if (t) clearTimeout(t);
    this.timers[name] = null;
  }

  running(name: TimerName): boolean {
    return this.timers[name] !== null;
  }

  /** The session's timers stop; the idle hold runs on. */
  stop(): void {
    for (const name of ['connectRetry', 'hold', 'keepalive', 'sendHold'] as const) this.clear(name);
  }

  /** Every timer stops. */
  clearAll(): void {
    for (const name of Object.keys(this.timers) as TimerName[]) this.clear(name);
  }

  /** RFC 4271 §10: the ConnectRetryTimer, jittered by 0.75..1.0. */
  connectRetryStart(): void {
    const ms = this.config.connectRetry * 1000 * (0.75 + Math.random() * 0.25);
    this.set('connectRetry', ms, () => this.owner.expired(Event.ConnectRetryTimerExpires));
  }

  /** The hold timer checks a deadline rather than being re-armed on every message. */
  holdStart(seconds: number): void {
    this.clear('hold');
    this.holdMs = seconds * 1000;
    this.lastReceivedAt = Date.now();
    if (seconds === 0) return;
    const check = () => {
      // While we do not read (backpressure), the peer's KEEPALIVEs wait in our socket.
      if (this.owner.readingPaused()) this.lastReceivedAt = Date.now();
      const left = this.lastReceivedAt + this.holdMs - Date.now();
      if (left > 0) this.set('hold', left, check);
      else this.owner.expired(Event.HoldTimerExpires);
    };
    this.set('hold', this.holdMs, check);
  }

  /** A message arrived: the hold time counts from now, which is returned. */
  heard(): number {
    this.lastReceivedAt = Date.now();
    return this.lastReceivedAt;
  }

  keepaliveStart(seconds: number): void {
    if (seconds > 0) this.set('keepalive', seconds * 1000, () => this.owner.expired(Event.KeepaliveTimerExpires));
  }

  /**
   * RFC 9687: output backed up; unless already running, the Send Hold Timer starts, and expires
   * if `backedUp` still holds then. `holdTime`: the negotiated hold time (0 before OPEN).
   */
  sendHoldStart(holdTime: number, backedUp: () => boolean): void {
    if (this.timers.sendHold) return;
    const ms = (this.config.sendHoldTime ?? Math.max(MIN_SEND_HOLD_TIME_S, 2 * holdTime)) * 1000;
    this.set('sendHold', ms, () => {
      if (backedUp()) this.owner.expired(Event.SendHoldTimerExpires);
    });
  }

  /** Forgets earlier failures (an operator start). */
  resetBackoff(): void {
    this.failures = 0;
  }

  /** The next idle hold is `seconds` long, whatever the back-off. */
  overrideIdleHold(seconds: number): void {
    this.idleHoldOverrideMs = seconds * 1000;
  }

  /**
   * Counts one more failure and returns the idle hold to wait before restarting.
   * `establishedAt`: when the session that just failed came up (0 if it never did).
   */
  nextIdleHold(establishedAt: number): { ms: number; failures: number } {
    if (establishedAt && Date.now() - establishedAt >= STABLE_SESSION_MS) this.failures = 0;
    this.failures++;
    const base = this.config.idleHoldTime * 1000;
    const ms = this.idleHoldOverrideMs ?? Math.min(base * 2 ** (this.failures - 1), this.config.idleHoldMax * 1000);
    this.idleHoldOverrideMs = null;
    return { ms, failures: this.failures };
  }
}
