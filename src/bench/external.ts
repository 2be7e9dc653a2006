// A router the user runs (loadtest): nothing to start or stop; peak RSS and CPU from /proc
// when its pid is given and it runs on this machine.

import { readFileSync } from 'node:fs';
import type { Target } from './targets.js';

export class ExternalTarget implements Target {
  constructor(
    readonly name: string,
    readonly pid = 0,
  ) {}

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  peakRss(): number {
    if (!this.pid) return 0;
    const m = readFileSync(`/proc/${this.pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
    return m ? Number(m[1]) * 1024 : 0;
  }

  cpuSeconds(): number {
    if (!this.pid) return 0;
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  }
}
