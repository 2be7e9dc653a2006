// What a neighbor shows the rest of the speaker: its counters, last error, events, and the
// interface of the RIB it hands UPDATEs to.

import type { NotificationMessage } from '../packet/index.js';
import type { Event, State } from './fsm.js';
import type { NegotiatedSession } from './negotiate.js';
import type { Neighbor } from './neighbor.js';

export interface MessageCounters {
  open: number;
  update: number;
  notification: number;
  keepalive: number;
  refresh: number;
  total: number;
}

export const zeroCounters = (): MessageCounters => ({ open: 0, update: 0, notification: 0, keepalive: 0, refresh: 0, total: 0 });
const COUNTER_KEY: Record<number, keyof MessageCounters> = { 1: 'open', 2: 'update', 3: 'notification', 4: 'keepalive', 5: 'refresh' };

/** Counts one message of `type` (its message type code). */
export function count(c: MessageCounters, type: number): void {
  const k = COUNTER_KEY[type];
  if (k) c[k]++;
  c.total++;
}

export interface LastError {
  direction: 'sent' | 'received' | 'local';
  code: number;
  subcode: number;
  text: string;
  at: number;
}

/**
 * Sees each message the session receives on its current connection, UPDATEs included, in the
 * order they arrived and before they are handled: MRT update logs, BMP route monitoring. `msg`
 * is the whole message, header included, as a view of the receive ring: copy what is kept.
 */
export type MessageTap = (n: Neighbor, msg: Uint8Array) => void;

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

/** What an FSM event brings along. */
export interface EventData {
  /** The message that raised it (ROUTE-REFRESH, for its processing). */
  message?: Uint8Array;
  /** The NOTIFICATION it leads to sending (SendNotification): a decode error, or a Cease. */
  notification?: NotificationMessage;
}
