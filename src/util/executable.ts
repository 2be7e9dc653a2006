// Finding a program to run: the product's bzip2 for MRT dumps, the harness's BGP daemons.

import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The path of `bin` (a path, or a name looked up on $PATH and then in `extraDirs`) when it is an
 * executable file; null otherwise. $PATH is read at each call.
 */
export function findExecutable(bin: string, extraDirs: readonly string[] = []): string | null {
  const candidates = bin.includes('/')
    ? [bin]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .concat(extraDirs)
        .map((dir) => join(dir, bin));
  for (const p of candidates) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}
