// The Piscina task module: each worker thread maps the RIB's shared memory once and applies
// the batches it is given.

import { workerData } from 'node:worker_threads';
import { Piscina, transferableSymbol, valueSymbol } from 'piscina';
import { BatchApplier, packResult, sortByAttribute, type BatchResult, type PeerContext } from './apply.js';
import { encodeUpdateEvents, type EncodedEvents, type UpdateWatch } from './events.js';
import { faultDue, type FaultSpec } from './fault.js';
import { RibViews, type RibBuffers } from './memory.js';
import { codecContext } from './parse.js';
import { warmUp } from './warmup.js';

export type RibTask =
  | {
      kind: 'updates';
      seq: number;
      peer: number;
      ctx: PeerContext;
      buffer: SharedArrayBuffer;
      descriptors: Uint32Array;
      /** Someone watches received UPDATEs (events.ts): absent when nobody does. */
      watch?: UpdateWatch;
    }
  | { kind: 'flush'; seq: number; peer: number; how: 'all' | 'stale' | 'mark' }
  /** Batch `seq` again after its worker failed (BatchApplier.recover); `redo` a flush's work. */
  | { kind: 'recover'; seq: number; peer: number; redo?: 'all' | 'stale' | 'mark' };

/** A batch's result with its UPDATE events (JSON lines as bytes, events.ts), their buffers transferred. */
export interface RibTaskOutput {
  result: BatchResult | Uint32Array;
  events: EncodedEvents;
}

const data = workerData as { rib: RibBuffers; fault?: FaultSpec };
const views = new RibViews(data.rib);
const fault = data.fault;
const applier = new BatchApplier(views);
// Before the first task (tasks wait in the port until this module has loaded): compiled code
// from the first UPDATE on. Only an optimization: a failure here must not stop the worker.
try {
  warmUp(data.rib.sizing.shards);
} catch {
  // the batches compile the code themselves
}

/**
 * Results travel back as one transferred Uint32Array (no copy), or as an object when there is
 * an error or a problem to log; with the batch's UPDATE events when it was watched and has any.
 */
export default function run(task: RibTask): BatchResult | Uint32Array | RibTaskOutput {
  let result: BatchResult;
  let events: EncodedEvents | undefined;
  views.syncAttributeTables(); // grown since our last batch, by the pipeline or another worker
  if (task.kind === 'flush') result = applier.flushPeer(task.seq, task.peer, task.how);
  else if (task.kind === 'recover') result = applier.recover(task.seq, task.peer, task.redo);
  else {
    if (fault && faultDue(fault, task.peer, task.descriptors.length >> 1)) applier.fault = fault.how;
    // Every message brings its own SharedArrayBuffer object, so a view cached per buffer would
    // never be found again and would keep each session's receive ring alive until this
    // thread's next full GC: a view for this task only.
    const bytes = new Uint8Array(task.buffer);
    result = applier.applyUpdates(task.seq, task.peer, task.ctx, bytes, task.descriptors);
    if (task.watch !== undefined) events = encodeUpdateEvents(bytes, task.descriptors, applier.received, codecContext(task.ctx), task.watch);
  }
  // Sorting by attribute here costs the workers, not the main thread that packs the UPDATEs.
  if (result.error || result.problems.length) {
    const r = { ...result, changes: sortByAttribute(result.changes) };
    return events ? withEvents(r, events) : r;
  }
  const packed = packResult(result);
  return events ? withEvents(packed, events) : (Piscina.move(packed) as unknown as Uint32Array);
}

/** The result and the events in one message, their buffers transferred, not copied. */
function withEvents(result: BatchResult | Uint32Array, events: EncodedEvents): RibTaskOutput {
  const value: RibTaskOutput = { result, events };
  const moved: ArrayBufferLike[] = [events.bytes.buffer, events.index.buffer];
  if (result instanceof Uint32Array) moved.push(result.buffer);
  return Piscina.move({ [transferableSymbol]: moved, [valueSymbol]: value }) as unknown as RibTaskOutput;
}
