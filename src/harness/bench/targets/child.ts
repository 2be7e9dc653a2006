// A target run as a child program: started in its own process group with the tail of its output
// kept, waited on until ready, read for RSS and CPU, and stopped — either as one process, or (a
// daemon in its run directory) as its whole process group.

import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { groupAlive, isListening, procCpu, procStatus, runDir, signalGroup, sumOverGroup, trackGroup, untrackGroup } from './proc.js';
import type { Target, TargetOptions } from './types.js';

export abstract class ChildTarget implements Target {
  abstract readonly name: string;
  protected child: ChildProcess | null = null;
  protected log = '';

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  abstract start(): Promise<void>;

  /** Starts the program in its own process group, keeping the tail of its output. */
  protected launch(cmd: string, args: string[]): void {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    const onOut = (c: Buffer) => {
      this.log += c.toString();
      if (this.log.length > 1 << 20) this.log = this.log.slice(-(1 << 19));
    };
    child.stdout!.on('data', onOut);
    child.stderr!.on('data', onOut);
  }

  /** Waits until `ready()` holds; fails if the program exits or time runs out. */
  protected async until(ready: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (this.child?.exitCode !== null) throw new Error(`${this.name} exited with ${this.child?.exitCode}: ${this.log.slice(-500)}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not start: ${this.log.slice(-500)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  peakRss(): number {
    return this.pid ? procStatus(this.pid, 'VmHWM') : 0;
  }

  cpuSeconds(): number {
    return this.pid ? procCpu(this.pid) : 0;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}

/**
 * A daemon that runs from its own directory under os.tmpdir() and is measured and stopped as
 * its whole process group: OpenBGPD forks three children (session engine, RDE, RTR) whose RSS
 * and CPU count too; for single-process daemons the group is the one process.
 */
export abstract class GroupTarget extends ChildTarget {
  protected readonly dir: string;

  constructor(dirPrefix: string) {
    super();
    this.dir = runDir(dirPrefix);
  }

  protected override launch(cmd: string, args: string[]): void {
    super.launch(cmd, args);
    if (this.pid) trackGroup(this.pid);
  }

  /** Sum of the group's peak resident sets (each process's own VmHWM). */
  override peakRss(): number {
    return this.pid ? sumOverGroup(this.pid, (pid) => procStatus(pid, 'VmHWM')) : 0;
  }

  override cpuSeconds(): number {
    return this.pid ? sumOverGroup(this.pid, procCpu) : 0;
  }

  /** SIGTERM to the group, SIGKILL after 5 s; done when the leader and every member are gone. */
  override async stop(): Promise<void> {
    const c = this.child;
    if (c && c.pid) {
      const pgid = c.pid;
      const exited = c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r));
      signalGroup(pgid, 'SIGCONT');
      signalGroup(pgid, 'SIGTERM');
      const deadline = Date.now() + 5000;
      let killed = false;
      for (;;) {
        const leaderDone = c.exitCode !== null || c.signalCode !== null;
        if (leaderDone && !groupAlive(pgid)) break;
        if (!killed && Date.now() > deadline) {
          signalGroup(pgid, 'SIGKILL');
          killed = true;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      await exited;
      untrackGroup(pgid);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Waits for the daemon to accept sessions on the target address and for its CLI to answer. */
  protected ready(cliUp: () => boolean, timeoutMs = 20_000): Promise<void> {
    return this.until(() => isListening(this.o.address, this.o.port) && cliUp(), timeoutMs);
  }

  protected abstract readonly o: TargetOptions;
}
