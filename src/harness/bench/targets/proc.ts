// Processes of a target as the kernel shows them: /proc readers for RSS and CPU, process groups
// (listed, signalled, killed when the bench exits), the listening check, a daemon's control CLI
// and its run directory.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A `kB` field of /proc/PID/status, in bytes. */
export function procStatus(pid: number, field: string): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** User + system CPU seconds of one process. */
export function procCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks / 100;
}

/** The processes in process group `pgid` (a daemon we started detached, and what it forked). */
function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) pids.push(Number(entry)); // state, ppid, pgrp
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export function sumOverGroup(pgid: number, read: (pid: number) => number): number {
  let total = 0;
  for (const pid of groupPids(pgid)) {
    try {
      total += read(pid);
    } catch {
      // exited between listing and reading
    }
  }
  return total;
}

/** True while any process of group `pgid` exists (zombies included). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

// Process groups of daemons still running, killed if the bench exits without stopping them.
const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
});

/** Kills group `pgid` when the bench exits, unless `untrackGroup` comes first. */
export function trackGroup(pgid: number): void {
  liveGroups.add(pgid);
}

export function untrackGroup(pgid: number): void {
  liveGroups.delete(pgid);
}

/**
 * True when something listens on TCP `address`:`port`, read from /proc/net/tcp so that checking
 * does not open a connection the daemon would take for a stray peer.
 */
export function isListening(address: string, port: number): boolean {
  const hex = Buffer.from(address.split('.').map(Number)).readUInt32LE(0).toString(16).toUpperCase().padStart(8, '0');
  const local = `${hex}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return false;
  }
  return table.split('\n').some((line) => {
    const f = line.trim().split(/\s+/);
    return f[1] === local && f[3] === '0A';
  });
}

/** Runs a daemon's control CLI once (2 s at most): whether it succeeded, and what it printed. */
export function cliOk(cmd: string, args: string[]): { ok: boolean; stdout: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 2000 });
  return { ok: r.status === 0, stdout: r.stdout ?? '' };
}

/** A fresh run directory for one target under os.tmpdir(). */
export function runDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `ribstorm-bench-${name}-`));
}
