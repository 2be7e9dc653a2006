// The daemons' process layer (harness/daemons/proc.ts): a daemon is spawned detached, in its
// own process group, so a terminal's Ctrl-C does not reach it; a bench or test interrupted, or
// sent SIGTERM, still stops every group it started, and then dies of that signal; one that
// handles the signal itself is left to do so, and its groups go when it exits.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signalGroup } from '../../src/harness/daemons/proc.js';
import { until } from '../helpers/rawPeer.js';

const dir = mkdtempSync(join(tmpdir(), 'ribstorm-proc-'));
const leftovers: number[] = [];
const parents: ChildProcess[] = [];
afterAll(() => {
  for (const p of parents) p.kill('SIGKILL');
  for (const pgid of leftovers) signalGroup(pgid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const procModule = new URL('../../dist/src/harness/daemons/proc.js', import.meta.url).href;

/** A node process that starts a long-lived "daemon" (sleep) by the process layer, runs `then` (source), prints the daemon's group and waits. */
async function starter(name: string, then = ''): Promise<{ parent: ChildProcess; pgid: number; exited: Promise<NodeJS.Signals | number | null> }> {
  const script = `import('${procModule}').then(({ startDetached }) => {
    const d = startDetached('sleep', ['600'], { cwd: ${JSON.stringify(dir)}, logFile: ${JSON.stringify(join(dir, `${name}.log`))} });
    ${then}
    console.log(d.pid);
    setInterval(() => {}, 1000);
  });`;
  const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  parents.push(parent);
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => parent.once('exit', (code, signal) => resolve(signal ?? code)));
  let out = '';
  parent.stdout!.on('data', (b: Buffer) => (out += b));
  await until(() => /^\d+\n/.test(out), 10_000, 'the daemon started');
  const pgid = Number(out.trim());
  leftovers.push(pgid);
  expect(signalGroup(pgid, 0)).toBe(true);
  return { parent, pgid, exited };
}

describe('daemon process groups', () => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`are stopped when the process that started them gets ${sig}`, async () => {
      const { parent, pgid, exited } = await starter(sig);
      parent.kill(sig);
      // It died of the signal, as it would have without the daemons, and took them with it.
      expect(await exited).toBe(sig);
      await until(() => !signalGroup(pgid, 0), 5000, 'the daemon group gone');
    });
  }

  it('are left to a process that handles the signal itself, and go when it exits', async () => {
    // Its own handler takes a while to shut down, then exits with 3.
    const { parent, pgid, exited } = await starter('handled', "process.once('SIGTERM', () => setTimeout(() => process.exit(3), 300));");
    parent.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(signalGroup(pgid, 0)).toBe(true); // still there while the handler runs
    expect(await exited).toBe(3);
    await until(() => !signalGroup(pgid, 0), 5000, 'the daemon group gone at exit');
  });
});
