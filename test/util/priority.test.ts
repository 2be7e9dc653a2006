// CPU priority (util/priority.ts): a thread lowers itself alone; a process leading its own
// session lowers its session's share and may ask for it back; any other process leaves its
// session (the test runner's) as it is.

import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { autogroupsApply } from '../../src/util/priority.js';

const priorityModule = new URL('../../dist/src/util/priority.js', import.meta.url).href;

describe('lowerThreadPriority', () => {
  it.runIf(process.platform === 'linux')('lowers the calling thread alone', async () => {
    const worker = new Worker(
      `import('${priorityModule}').then(({ lowerThreadPriority }) => require('node:worker_threads').parentPort.postMessage(lowerThreadPriority(19)));`,
      { eval: true },
    );
    const nice = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(nice).toBe(19);
    // This thread kept its own.
    expect(getPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()))).toBeLessThan(19);
  });
});

/** What a child process printed: setSessionPriority(19), then setSessionPriority(0), as JSON. */
async function sessionPriorityIn(detached: boolean): Promise<unknown> {
  const script = `import('${priorityModule}').then(({ setSessionPriority }) => console.log(JSON.stringify([setSessionPriority(19), setSessionPriority(0)])));`;
  const child = spawn(process.execPath, ['-e', script], { detached, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  expect(code).toBe(0);
  return JSON.parse(out);
}

const autogroups = process.platform === 'linux' && autogroupsApply();
const ownAutogroup = () => readFileSync('/proc/self/autogroup', 'latin1');

describe('setSessionPriority', () => {
  it.runIf(autogroups)('lowers the session of a process spawned detached, which may have it back', async () => {
    const before = ownAutogroup();
    const [lowered, back] = (await sessionPriorityIn(true)) as [number, number];
    expect(lowered).toBe(19);
    // Back to 0 needs no privilege (below 0 would); a second change within 100 ms is tried again.
    expect(back).toBe(0);
    expect(ownAutogroup()).toBe(before);
  });

  it.runIf(process.platform === 'linux')('leaves the session alone in a process that does not lead it', async () => {
    const before = ownAutogroup();
    expect(await sessionPriorityIn(false)).toEqual([null, null]);
    expect(ownAutogroup()).toBe(before);
  });
});
