// CPU priority: a thread's, and a session's. On Linux a nice value belongs to a thread:
// setpriority(2) on a thread id changes that thread alone, and any thread may lower its own
// priority. With autogroups, a session's threads share one share of the CPU, which has a nice
// value of its own.

import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * Gives the calling thread the nice value `nice` (19: the lowest priority), so that it runs on
 * what CPU the others leave. Returns the value it now has, or null where threads have no id
 * of their own to set it by (other systems than Linux): the thread then runs as it did.
 */
export function lowerThreadPriority(nice: number): number | null {
  let tid: number;
  try {
    // "PID/task/TID"
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return null;
  }
  if (!Number.isInteger(tid) || tid <= 0) return null;
  try {
    if (getPriority(tid) < nice) setPriority(tid, nice);
    return getPriority(tid);
  } catch {
    return null;
  }
}

/**
 * Whether the scheduler shares the CPU by autogroup for this process: the sysctl is on and the
 * process is in the root CPU cgroup (one of its own, a container's or a systemd slice's with
 * the cpu controller, comes first and autogroups do not apply inside it).
 */
export function autogroupsApply(): boolean {
  try {
    if (readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'latin1').trim() !== '1') return false;
    // "ID:CONTROLLERS:PATH" lines: cgroup v1's cpu controller, or else v2's single hierarchy ("0::PATH").
    const lines = readFileSync('/proc/self/cgroup', 'latin1').trim().split('\n').map((l) => l.split(':'));
    const cpu = lines.find(([, controllers]) => controllers.split(',').includes('cpu')) ?? lines.find(([id, controllers]) => id === '0' && controllers === '');
    return cpu?.slice(2).join(':') === '/';
  } catch {
    return false;
  }
}

/**
 * Sets the nice value of the calling process's session as a whole, when the process leads a
 * session of its own (spawned detached): on Linux with autogroups the scheduler first shares
 * the CPU between sessions, each as one, and a thread's nice value only weighs against its own
 * session's threads, so a thread at nice 19 still takes a whole session's share while the
 * others of its session wait. Any value from 0 to 19 may be set, back and forth (below 0 needs
 * CAP_SYS_NICE); the kernel takes one such change a tenth of a second from unprivileged
 * processes machine-wide, so a refused one is tried again. Returns the session's nice value
 * now, or null where it has none that counts (not a session leader, autogroups off or not
 * applying, not Linux).
 */
export function setSessionPriority(nice: number): number | null {
  try {
    // "PID (COMM) STATE PPID PGRP SESSION ...": COMM may hold spaces, so count after its ')'.
    const stat = readFileSync('/proc/self/stat', 'latin1');
    const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
    if (session !== process.pid || !autogroupsApply()) return null;
  } catch {
    return null;
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync('/proc/self/autogroup', String(nice));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') break;
      // Another change within the last tenth of a second, anywhere on the machine.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 110);
    }
  }
  try {
    return Number(/nice (-?\d+)/.exec(readFileSync('/proc/self/autogroup', 'latin1'))?.[1] ?? NaN);
  } catch {
    return null;
  }
}
