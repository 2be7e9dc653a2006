// A test facility: a fault injected into the RIB workers, to show that the RIB survives one.
// RIBSTORM_FAULT=<how>:<peer>:<nth> (read once, when the pipeline is made) makes the batch of
// peer index <peer> that carries the peer's <nth> UPDATE (from 1, counted over every worker and
// every session) fail once:
//   shard  throws inside a shard turn, after half the batch's operations in that shard;
//   exit   ends the worker thread there (process.exit), turns held, shard half-changed;
//   throw  throws between two shard turns, out of the shard loop, the rest of the turns not taken.
// The shard is the one where the batch has most operations. Unset, none of this runs.

export type FaultHow = 'shard' | 'exit' | 'throw';

export interface FaultSpec {
  how: FaultHow;
  peer: number;
  nth: number;
  /** UPDATEs of the peer seen so far, shared by the workers (and their replacements). */
  counter: SharedArrayBuffer;
}

export function parseFault(text: string | undefined): FaultSpec | undefined {
  if (!text) return undefined;
  const m = /^(shard|exit|throw):(\d+):(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`RIBSTORM_FAULT: want shard|exit|throw:<peer index>:<nth UPDATE>, not "${text}"`);
  return { how: m[1] as FaultHow, peer: Number(m[2]), nth: Number(m[3]), counter: new SharedArrayBuffer(4) };
}

/** Whether the batch of `peer` with `messages` UPDATEs is the one to fail (at most one is). */
export function faultDue(spec: FaultSpec, peer: number, messages: number): boolean {
  if (peer !== spec.peer) return false;
  const before = Atomics.add(new Int32Array(spec.counter), 0, messages);
  return before < spec.nth && before + messages >= spec.nth;
}

/**
 * The shard to fail in: the one holding most of the batch's operations (`starts` as in
 * BatchApplier.applyOps); for 'throw' not the last, so that turns are left untaken.
 */
export function faultShard(how: FaultHow, starts: Int32Array, shards: number): number {
  const last = how === 'throw' ? Math.max(1, shards - 1) : shards;
  let best = 0;
  for (let s = 1; s < last; s++) if (starts[s + 1] - starts[s] > starts[best + 1] - starts[best]) best = s;
  return best;
}

export function injectFault(how: FaultHow): never {
  if (how === 'exit') process.exit(70);
  throw new Error(`injected RIB worker fault (${how})`);
}
