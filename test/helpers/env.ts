// What a test needs from the machine, found rather than assumed: a free TCP port on a loopback
// address, and the shared data folder beside the repository.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** A port the kernel reports free on a host now: the daemon drivers' own. */
export { freePort } from '../../src/harness/daemons/proc.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The shared data folder (real MRT dumps and traces): $RIBSTORM_SHARED, or `shared` beside
 * the repository or beside its parent. Undefined when none exists.
 */
export function sharedDir(): string | undefined {
  const candidates = [process.env.RIBSTORM_SHARED, path.join(REPO, '../shared'), path.join(REPO, '../../shared')];
  return candidates.find((c) => c && existsSync(path.join(c, 'data')));
}

/** A file under the shared data folder (`data/mrt/...`), or undefined when it is not there. */
export function sharedFile(rel: string): string | undefined {
  const d = sharedDir();
  const f = d && path.join(d, rel);
  return f && existsSync(f) ? f : undefined;
}

/**
 * Writes the line that says in the run's output what was skipped and why, e.g.
 * `*** interop: SKIPPED OpenBGPD: needs root ***`; the tests themselves skip with the same reason.
 */
export function reportSkipped(suite: string, what: string[]): void {
  if (what.length) process.stderr.write(`\n*** ${suite}: SKIPPED ${what.join('; ')} ***\n`);
}
