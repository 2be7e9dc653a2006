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
 * Sets the nice value of the calling process's session as a whole, when the process leads a
 * session of its own (spawned detached): on Linux with autogroups
 * (/proc/sys/kernel/sched_autogroup_enabled) the scheduler first shares the CPU between
 * sessions, each as one, and a thread's nice value only weighs against its own session's
 * threads, so a thread at nice 19 still takes a whole session's share while the others of its
 * session wait. Lowering a session's priority is always allowed; raising it again may be
 * refused (RLIMIT_NICE). Returns the session's nice value now, or null where it has none to
 * set (not a session leader, no autogroups, not Linux).
 */
export function setSessionPriority(nice: number): number | null {
  try {
    // "PID (COMM) STATE PPID PGRP SESSION ...": COMM may hold spaces, so count after its ')'.
    const stat = readFileSync('/proc/self/stat', 'latin1');
    const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
    if (session !== process.pid) return null;
  } catch {
    return null;
  }
  try {
    writeFileSync('/proc/self/autogroup', String(nice));
  } catch {
    // Refused: it keeps the value it has.
  }
  try {
    return Number(/nice (-?\d+)/.exec(readFileSync('/proc/self/autogroup', 'latin1'))?.[1] ?? NaN);
  } catch {
    return null;
  }
}
