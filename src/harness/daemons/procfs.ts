// The daemon drivers' view of processes and sockets as the kernel shows them in /proc: a
// process's peak RSS and CPU time, the members of a process group and the children of a
// process, whether a pid is alive, and whether something listens on an address and port.
// Reading, never signalling: proc.ts starts and stops.

import { readdirSync, readFileSync } from 'node:fs';

/** A `kB` field of /proc/PID/status, in bytes. */
export function procStatus(pid: number, field: string): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** The fields of /proc/PID/stat (or PID/task/TID/stat) after the command name: [0] state, [1] ppid, [2] pgrp, [11] utime, [12] stime. */
export function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU seconds of one process. */
export function procCpu(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The pids whose stat field `index` (1: parent, 2: process group) equals `value`. */
function pidsWith(index: 1 | 2, value: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(entry)[index]) === value) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** The processes of group `pgid`: a daemon we started detached, and what it forked. */
export function groupPids(pgid: number): number[] {
  return pidsWith(2, pgid);
}

/** The processes whose parent is `pid`. */
export function childPids(pid: number): number[] {
  return pidsWith(1, pid);
}

/** `read` summed over group `pgid` (e.g. each member's VmHWM, or its CPU seconds). */
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

/** True while process `pid` exists (a zombie included). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * True when something listens on TCP `address`:`port` (or on 0.0.0.0:`port`), read from
 * /proc/net/tcp so that checking does not open a connection the daemon would log as a stray peer.
 */
export function isListening(address: string, port: number): boolean {
  const hex = (a: string) =>
    Buffer.from(a.split('.').map(Number)).readUInt32LE(0).toString(16).toUpperCase().padStart(8, '0');
  const wanted = new Set([hex(address), '00000000'].map((h) => `${h}:${port.toString(16).toUpperCase().padStart(4, '0')}`));
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return false;
  }
  return table
    .split('\n')
    .slice(1)
    .some((line) => {
      const f = line.trim().split(/\s+/);
      return f[3] === '0A' && wanted.has(f[1] ?? '');
    });
}
