// The daemons' process layer (harness/daemons/proc.ts): a daemon is spawned detached, in its
// own process group, so a terminal's Ctrl-C does not reach it; a bench or test interrupted, or
// sent SIGTERM, still stops every group it started, and then dies of that signal.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signalGroup } from '../../src/harness/daemons/proc.js';
import { until } from '../helpers/rawPeer.js';

const dir = mkdtempSync(join(tmpdir(), 'ribstorm-proc-'));
const leftovers: number[] = [];
afterAll(() => {
  for (const pgid of leftovers) signalGroup(pgid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const procModule = new URL('../../dist/src/harness/daemons/proc.js', import.meta.url).href;

describe('daemon process groups', () => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`are stopped when the process that started them gets ${sig}`, async () => {
      // A process that starts a long-lived "daemon" (sleep), prints its group, and waits.
      const script = `import('${procModule}').then(({ startDetached }) => {
        const d = startDetached('sleep', ['600'], { cwd: ${JSON.stringify(dir)}, logFile: ${JSON.stringify(join(dir, `${sig}.log`))} });
        console.log(d.pid);
        setInterval(() => {}, 1000);
      });`;
      const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      parent.stdout.on('data', (b: Buffer) => (out += b));
      await until(() => /^\d+\n/.test(out), 10_000, 'the daemon started');
      const pgid = Number(out.trim());
      leftovers.push(pgid);
      expect(signalGroup(pgid, 0)).toBe(true);
      const exited = new Promise<NodeJS.Signals | null>((resolve) => parent.once('exit', (_code, signal) => resolve(signal)));
      parent.kill(sig);
      // It died of the signal, as it would have without the daemons, and took them with it.
      expect(await exited).toBe(sig);
      await until(() => !signalGroup(pgid, 0), 5000, 'the daemon group gone');
    });
  }
});
