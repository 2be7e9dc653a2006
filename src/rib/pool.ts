// The worker pools: Piscina threads over the shared RIB, each running worker.ts, one task at a
// time, with a small young generation; and the one thread that writes received UPDATEs as
// route events (eventWorker.ts).

import { Piscina } from 'piscina';
import type { FaultSpec } from './fault.js';
import type { RibBuffers } from './memory.js';

/**
 * Worker threads load compiled JavaScript. Run from the TypeScript sources (the tests), this
 * module finds the build of the same tree in dist/ (npm test builds it first).
 */
function workerUrl(module: 'worker' | 'eventWorker'): string {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL(`../../dist/src/rib/${module}.js`, here).href : new URL(`./${module}.js`, here).href;
}

export function createPool(workers: number, rib: RibBuffers, fault: FaultSpec | undefined): Piscina {
  const options = {
    filename: workerUrl('worker'),
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: 60_000,
    // Batches block on each other's shard turns: more than one per thread could deadlock.
    concurrentTasksPerWorker: 1,
    workerData: { rib, fault },
    // Workers keep their data in shared memory and allocate little of their own: a small
    // young generation keeps their heaps from growing to V8's defaults.
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
  };
  return piscina(options);
}

/** The route events' thread: one, started with the first watcher, gone after a minute idle. */
export function createEventPool(): Piscina {
  return piscina({ filename: workerUrl('eventWorker'), minThreads: 0, maxThreads: 1, idleTimeout: 60_000, concurrentTasksPerWorker: 1 });
}

/**
 * Piscina require()s the worker file first and import()s it when that fails; the preload and
 * the first task can do so at once, and Node 20's require(esm) then aborts the process.
 * Without require(esm) both import. A process started with options a worker may not take
 * (--expose-gc: `ribstorm plan`'s probes) keeps the inherited ones.
 */
function piscina(options: ConstructorParameters<typeof Piscina>[0] & object): Piscina {
  try {
    return new Piscina({ ...options, execArgv: [...process.execArgv, '--no-experimental-require-module'] });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
    return new Piscina(options);
  }
}
