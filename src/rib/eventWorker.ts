// The route events' thread: received UPDATEs, copied out of a session's ring once their batch
// was applied, written as RIS Live JSON (events.ts, eventJson.ts). It runs at the lowest CPU
// priority: the RIB's workers and the sessions come first, and on a machine they keep busy
// the events trail the RIB (eventLane.ts bounds by how much) instead of slowing it.

import { Piscina, transferableSymbol, valueSymbol } from 'piscina';
import { lowerThreadPriority } from '../util/priority.js';
import { encodeUpdateEvents, type EncodedEvents, type EventEnvelope, type UpdateWatch } from './events.js';
import type { AttrContext } from '../packet/attr/validate.js';

/** One batch's received UPDATEs, copied into the lane's shared memory: `descriptors` are (offset, length) pairs into `buffer`. */
export interface EventTask {
  buffer: SharedArrayBuffer;
  descriptors: Uint32Array;
  ctx: AttrContext;
  watch: UpdateWatch;
  /** The stream's envelope around each event, when it watches. */
  envelope?: EventEnvelope;
}

/** The nice value of the events' thread: the lowest priority. */
export const EVENT_THREAD_NICE = 19;

lowerThreadPriority(EVENT_THREAD_NICE);

/** A chunk of the lane's copy arena to make ready: each of its pages touched, here, not on the main thread. */
export interface TouchTask {
  touch: SharedArrayBuffer;
}

const PAGE = 4096;

/** The batch's events (null: none, End-of-RIB only), their buffers transferred, not copied. */
export default function run(t: EventTask | TouchTask): EncodedEvents | null {
  if ('touch' in t) {
    const b = new Uint8Array(t.touch);
    for (let i = 0; i < b.length; i += PAGE) b[i] = 0;
    return null;
  }
  const e = encodeUpdateEvents(new Uint8Array(t.buffer), t.descriptors, t.descriptors.length >> 1, t.ctx, t.watch, t.envelope);
  if (e === undefined) return null;
  return Piscina.move({ [transferableSymbol]: [e.bytes.buffer, e.index.buffer], [valueSymbol]: e }) as unknown as EncodedEvents;
}
