// The route events' lane's bounds (eventLane.ts) and their defaults, on their own so that the
// configuration's defaults (`[rib] events-max-wait-ms`, `events-backlog-mb`) need nothing else.

/** The lane's bounds: the received UPDATEs that may wait, bytes, and how long while the RIB is loaded, ms. */
export interface EventLaneBounds {
  backlogBytes: number;
  deferMs: number;
}

/** The received UPDATEs' bytes waiting for the events' thread, at most, by default (about three full tables; `[rib] events-backlog-mb`). */
export const EVENT_BACKLOG_BYTES = 128 * 1024 * 1024;

/**
 * How long a batch's events may wait while the RIB is loaded, by default (`[rib]
 * events-max-wait-ms`): a table loading is routed first, and its events follow when it is
 * done, or after this.
 */
export const EVENT_DEFER_MS = 5000;

export const DEFAULT_EVENT_BOUNDS: EventLaneBounds = { backlogBytes: EVENT_BACKLOG_BYTES, deferMs: EVENT_DEFER_MS };
