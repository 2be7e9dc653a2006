// The workers' warm-up (warmup.ts): its synthetic UPDATEs are valid (no batch ends in an error,
// so the code they compile is the code real batches run), and it runs on a RIB of its own.
import { describe, expect, it } from 'vitest';
import { H_PATH_TOP, HEADER_WORDS } from '../../src/rib/memory.js';
import { countPaths } from '../../src/rib/query.js';
import { RibPipeline } from '../../src/rib/pipeline.js';
import { warmUp } from '../../src/rib/warmup.js';

describe('worker warm-up', () => {
  it('runs every synthetic batch without an error', () => {
    const r = warmUp(64);
    expect(r.batches).toBeGreaterThan(20);
    expect(r.errors).toBe(0);
  });

  it('leaves the shared RIB empty', async () => {
    const rib = new RibPipeline({ localAs: 65000, workers: 2 });
    try {
      await rib.flushPeer(1); // after both workers have started and warmed up
      await rib.flushPeer(2);
      const held = countPaths(rib.views);
      expect(held.prefixes).toBe(0);
      expect(held.paths).toBe(0);
      expect(Atomics.load(rib.views.attrCounters, 0)).toBe(1); // no attribute set interned
      for (let s = 0; s < rib.buffers.sizing.shards; s++) expect(rib.views.headers[s * HEADER_WORDS + H_PATH_TOP]).toBe(1); // no path record used
    } finally {
      await rib.close();
    }
  });
});
