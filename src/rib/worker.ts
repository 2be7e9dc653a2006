// The Piscina task module: each worker thread maps the RIB's shared memory once and applies
// the batches it is given.

import { workerData } from 'node:worker_threads';
import { BatchApplier, type BatchResult, type PeerContext } from './apply.js';
import { RibViews, type RibBuffers } from './memory.js';

export type RibTask =
  | { kind: 'updates'; seq: number; peer: number; ctx: PeerContext; buffer: SharedArrayBuffer; descriptors: Uint32Array }
  | { kind: 'flush'; seq: number; peer: number };

const views = new RibViews((workerData as { rib: RibBuffers }).rib);
const applier = new BatchApplier(views);
const rings = new WeakMap<SharedArrayBuffer, Uint8Array>();

export default function run(task: RibTask): BatchResult {
  if (task.kind === 'flush') return applier.flushPeer(task.seq, task.peer);
  let bytes = rings.get(task.buffer);
  if (!bytes) {
    bytes = new Uint8Array(task.buffer);
    rings.set(task.buffer, bytes);
  }
  return applier.applyUpdates(task.seq, task.peer, task.ctx, bytes, task.descriptors);
}
