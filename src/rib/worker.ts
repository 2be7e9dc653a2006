// The Piscina task module: each worker thread maps the RIB's shared memory once and applies
// the batches it is given.

import { workerData } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { BatchApplier, packResult, sortByAttribute, type BatchResult, type PeerContext } from './apply.js';
import { RibViews, type RibBuffers } from './memory.js';

export type RibTask =
  | { kind: 'updates'; seq: number; peer: number; ctx: PeerContext; buffer: SharedArrayBuffer; descriptors: Uint32Array }
  | { kind: 'flush'; seq: number; peer: number; how: 'all' | 'stale' | 'mark' };

const views = new RibViews((workerData as { rib: RibBuffers }).rib);
const applier = new BatchApplier(views);
const rings = new WeakMap<SharedArrayBuffer, Uint8Array>();

/**
 * Results travel back as one transferred Uint32Array (no copy), or as an object when there is
 * an error or a problem to log.
 */
export default function run(task: RibTask): BatchResult | Uint32Array {
  let result: BatchResult;
  if (task.kind === 'flush') result = applier.flushPeer(task.seq, task.peer, task.how);
  else {
    let bytes = rings.get(task.buffer);
    if (!bytes) {
      bytes = new Uint8Array(task.buffer);
      rings.set(task.buffer, bytes);
    }
    result = applier.applyUpdates(task.seq, task.peer, task.ctx, bytes, task.descriptors);
  }
  // Sorting by attribute here costs the workers, not the main thread that packs the UPDATEs.
  if (result.error || result.problems.length) return { ...result, changes: sortByAttribute(result.changes) };
  return Piscina.move(packResult(result)) as unknown as Uint32Array;
}
