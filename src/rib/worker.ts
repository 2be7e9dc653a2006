// The Piscina task module: each worker thread maps the RIB's shared memory once and applies
// the batches it is given.

import { workerData } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { BatchApplier, packResult, sortByAttribute, type BatchResult, type PeerContext } from './apply.js';
import { faultDue, type FaultSpec } from './fault.js';
import { RibViews, type RibBuffers } from './memory.js';
import { warmUp } from './warmup.js';

export type RibTask =
  | {
      kind: 'updates';
      seq: number;
      peer: number;
      ctx: PeerContext;
      buffer: SharedArrayBuffer;
      descriptors: Uint32Array;
    }
  | { kind: 'flush'; seq: number; peer: number; how: 'all' | 'stale' | 'mark' }
  /** Batch `seq` again after its worker failed (BatchApplier.recover); `redo` a flush's work. */
  | { kind: 'recover'; seq: number; peer: number; redo?: 'all' | 'stale' | 'mark' };

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
 * an error or a problem to log.
 */
export default function run(task: RibTask): BatchResult | Uint32Array {
  let result: BatchResult;
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
  }
  // Sorting by attribute here costs the workers, not the main thread that packs the UPDATEs.
  if (result.error || result.problems.length) return { ...result, changes: sortByAttribute(result.changes) };
  return Piscina.move(packResult(result)) as unknown as Uint32Array;
}
