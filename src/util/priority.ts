// A thread's CPU priority. On Linux a nice value belongs to a thread: setpriority(2) on a
// thread id changes that thread alone, and any thread may lower its own priority.

import { readlinkSync } from 'node:fs';
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
