// The soak's 60-second version (`npm run soak` runs ten minutes): ribstorm as a child process
// with 4 senders and a receiver, one sender replaying a real RIS trace, the others flapping
// their sessions in turn; its memory, handles and timers flat after warm-up, and at the end its
// Loc-RIB equal to the reference RIB and the receiver holding it.
import { describe, expect, it } from 'vitest';
import { loadTrace } from '../../src/harness/loadgen/replay.js';
import { runSoak } from '../../src/harness/soak/soak.js';
import { reportSkipped, sharedFile } from '../helpers/env.js';

const TRACE = 'data/mrt/updates/ris.rrc06.updates.1401488100.gz';
const traceFile = sharedFile(TRACE);
if (!traceFile) reportSkipped('soak', [`the trace replay: ${TRACE} not found (set RIBSTORM_SHARED to the folder holding data/, or put it beside the repository as ../shared); flaps only`]);

describe('soak, 60 seconds', () => {
  it('4 peers under flaps and a real trace: RSS, handles and timers flat; Loc-RIB and receiver equal to the reference', { timeout: 240_000 }, async () => {
    const trace = traceFile ? await loadTrace(traceFile, 65010) : undefined;
    const lines: string[] = [];
    const r = await runSoak({ seconds: 60, peers: 4, prefixes: 20_000, flapEvery: 8, trace, speed: 10, workers: 2, onProgress: (l) => lines.push(l) });
    const failed = r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    expect(failed, lines.join('\n')).toEqual([]);
    expect(r.flaps).toBeGreaterThanOrEqual(3);
    if (trace) expect(r.traceUpdates).toBeGreaterThan(0);
    // The comparison saw the whole table: every sender's prefixes, and the trace's.
    expect(r.locRib.expected).toBeGreaterThanOrEqual(20_000);
    expect(r.locRib.held).toBe(r.locRib.expected);
    expect(r.sink.held).toBe(r.locRib.expected);
    expect(r.samples.length).toBeGreaterThan(5);
  });
});
