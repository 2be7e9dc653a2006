// A target run as a process of its own (ribstorm, or a daemon through its driver in
// daemons/): started in a fresh run directory under the OS temp dir, measured for peak RSS and
// CPU time summed over its process group (OpenBGPD's forked children count too), and stopped as
// that group by its leader's pid (SIGTERM, SIGKILL after 5 s); the run directory goes with it.

import { rmSync } from 'node:fs';
import { runDir, type DaemonProcess } from '../../daemons/proc.js';
import type { Target } from './types.js';

export class ProcessTarget implements Target {
  private proc: DaemonProcess | null = null;
  private dir: string | null = null;
  private lastLog = '';

  constructor(
    readonly name: string,
    /** Starts the target in `runDir`; resolves once it takes sessions. */
    private readonly startIn: (runDir: string) => Promise<DaemonProcess>,
  ) {}

  get pid(): number {
    return this.proc?.pid ?? 0;
  }

  async start(): Promise<void> {
    this.dir = runDir(`bench-${this.name}`);
    this.proc = await this.startIn(this.dir);
  }

  peakRss(): number {
    return this.proc?.peakRss() ?? 0;
  }

  cpuSeconds(): number {
    return this.proc?.cpuSeconds() ?? 0;
  }

  /** The target's own log: while it runs, or as it was when it stopped. */
  log(): string {
    return this.proc?.readLog() ?? this.lastLog;
  }

  async stop(): Promise<void> {
    await this.proc?.stop(5_000);
    this.lastLog = this.proc?.readLog() ?? this.lastLog;
    this.proc = null;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}
