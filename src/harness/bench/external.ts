// A router the user runs (loadtest): nothing to start or stop; peak RSS and CPU from /proc
// when its pid is given and it runs on this machine.

import { procCpu, procStatus } from '../daemons/procfs.js';
import type { Target } from './targets/index.js';

export class ExternalTarget implements Target {
  constructor(
    readonly name: string,
    readonly pid = 0,
  ) {}

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  peakRss(): number {
    return this.pid ? procStatus(this.pid, 'VmHWM') : 0;
  }

  cpuSeconds(): number {
    return this.pid ? procCpu(this.pid) : 0;
  }
}
