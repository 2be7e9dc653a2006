// The process layer every daemon driver (and the bench's ribstorm target) stands on: a run
// directory and a free port, the daemon started detached in its own process group with its
// output in a log file there, waiting for it to be ready (failing at once, with the log's tail,
// when it exits), its control CLI run with a timeout, and stopping exactly the group we started,
// by its leader's pid. Groups still alive when this process exits are killed.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from '../../util/executable.js';
import { isListening, procCpu, procStatus, sumOverGroup } from './procfs.js';

export interface Started {
  readonly child: ChildProcess;
  /** Pid of the leader, which is also the process group id (spawned detached). */
  readonly pid: number;
  /** Resolves once the leader has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
}

// Groups still alive, so a crashing or interrupted run does not leave daemons behind.
const liveGroups = new Set<number>();
const killLiveGroups = () => {
  for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  liveGroups.clear();
};
process.once('exit', killLiveGroups);
let onSignals = false;

/**
 * From the first daemon started: an interrupt (Ctrl-C), SIGTERM or SIGHUP that the process
 * leaves to its default (ending it) first stops the groups still alive, which are detached
 * and so not reached by the terminal's signal, then takes its course. Where the process
 * handles the signal itself (listeners of its own, called after this one), nothing is done
 * here: the groups go at its exit.
 */
function killLiveGroupsOnSignals(): void {
  if (onSignals) return;
  onSignals = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      if (process.listenerCount(sig) > 1) return;
      killLiveGroups();
      process.off(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.prependListener(sig, onSignal);
  }
}

/** True when `bin` (a path, or a name looked up on PATH and the daemons' folders) is an executable file. */
export function hasBinary(bin: string): boolean {
  return findExecutable(bin, ['/usr/sbin', '/sbin', '/usr/lib/frr']) !== null;
}

/** A fresh run directory under os.tmpdir(), e.g. runDir('bench-bird'). */
export function runDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `ribstorm-${name}-`));
}

/** A port the kernel reports free on `host` now (bound to port 0, then released). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ host, port: 0 }, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Spawns `cmd` detached (its own process group, so pause/stop reach the daemon's forked
 * children too), stdout and stderr appended to `logFile`.
 */
export function startDetached(cmd: string, args: string[], opts: { cwd: string; logFile: string; env?: NodeJS.ProcessEnv }): Started {
  const logFd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, detached: true, stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
    child.once('error', () => {
      done = true;
      resolve({ code: null, signal: null });
    });
  });
  if (child.pid === undefined) throw new Error(`failed to spawn ${cmd}`);
  const pid = child.pid;
  liveGroups.add(pid);
  killLiveGroupsOnSignals();
  // Node must not wait on the daemon; stop() / the exit hook clean up.
  child.unref();
  return { child, pid, exited, hasExited: () => done };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until it returns true; throws after `timeoutMs` with the last failure. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a CLI command; never rejects on a non-zero exit, only on timeout or spawn failure. */
export function runCli(cmd: string, args: string[], timeoutMs = 5_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && (err as { killed?: boolean }).killed) {
        reject(new Error(`${cmd} ${args.join(' ')} timed out after ${timeoutMs} ms`));
        return;
      }
      if (err && typeof err.code !== 'number') {
        reject(err);
        return;
      }
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

/** Like runCli, but throws with the output when the command fails. */
export async function runCliOk(cmd: string, args: string[], timeoutMs = 5_000): Promise<string> {
  const r = await runCli(cmd, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** Sends `signal` to the whole process group led by `pgid`; false if the group is gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops the process group we started: SIGCONT (in case it is paused), SIGTERM, then SIGKILL
 * after `graceMs`; resolves once the leader and every other member of the group are gone.
 */
export async function stopGroup(p: Started, graceMs = 3_000): Promise<void> {
  const groupGone = () => !signalGroup(p.pid, 0);
  if (!groupGone()) {
    signalGroup(p.pid, 'SIGCONT');
    signalGroup(p.pid, 'SIGTERM');
    try {
      await waitFor('process group to exit', () => p.hasExited() && groupGone(), graceMs, 50);
    } catch {
      signalGroup(p.pid, 'SIGKILL');
      await waitFor('process group to die', () => p.hasExited() && groupGone(), 5_000, 50);
    }
  }
  await p.exited;
  liveGroups.delete(p.pid);
}

/** The last `lines` lines of a log file, for error messages ('' if unreadable). */
export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Where a daemon runs: its own run directory, and the loopback address and port it listens on. */
export interface Placement {
  runDir: string;
  address: string;
  port: number;
}

/** What `launch` waits for once the daemon runs. */
export interface Readiness {
  /** For the error message: "bird control socket and listener on ...". */
  what: string;
  until: () => boolean | Promise<boolean>;
  timeoutMs?: number;
}

/**
 * One daemon in its run directory: started in its own process group with its output in
 * `logFile`, paused, measured (peak RSS and CPU summed over the group) and stopped as that group.
 * Each driver extends it with its config files and its CLI.
 */
export class DaemonProcess {
  protected proc: Started | null = null;

  constructor(
    /** The daemon's name in errors. */
    readonly label: string,
    protected readonly at: Placement,
    readonly logFile: string,
  ) {}

  /** Pid of the process we started (the leader of its process group). */
  get pid(): number {
    if (!this.proc) throw new Error(`${this.label}: not started`);
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc !== null && !this.proc.hasExited();
  }

  /** Writes `name` in the run directory (creating it), and returns its path. */
  protected file(name: string, text: string, mode?: number): string {
    mkdirSync(this.at.runDir, { recursive: true });
    const path = join(this.at.runDir, name);
    writeFileSync(path, text, mode === undefined ? undefined : { mode });
    return path;
  }

  /** True when something listens on the daemon's address and port. */
  listening(): boolean {
    return isListening(this.at.address, this.at.port);
  }

  /**
   * Starts `cmd` from the run directory and waits until `ready` holds; when the daemon exits or
   * time runs out first, stops what is left of it and throws with the tail of its log.
   */
  async launch(cmd: string, args: string[], ready: Readiness, env?: NodeJS.ProcessEnv): Promise<void> {
    if (this.running) throw new Error(`${this.label}: already running`);
    mkdirSync(this.at.runDir, { recursive: true });
    const p = startDetached(cmd, args, { cwd: this.at.runDir, logFile: this.logFile, env });
    this.proc = p;
    let exited = false;
    const cond = async () => (p.hasExited() ? (exited = true) : ready.until());
    try {
      await waitFor(ready.what, cond, ready.timeoutMs ?? 10_000);
      if (exited) throw new Error(`${this.label} exited while waiting for ${ready.what}`);
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw new Error(`${(err as Error).message}\n--- ${this.logFile} ---\n${logTail(this.logFile)}`);
    }
  }

  /** The whole log so far ('' before the first start). */
  readLog(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** SIGSTOP / SIGCONT the whole process group (for hold-timer tests). */
  pause(): void {
    signalGroup(this.pid, 'SIGSTOP');
  }

  resume(): void {
    signalGroup(this.pid, 'SIGCONT');
  }

  /** Sum of the group's peak resident sets (each process's own VmHWM), in bytes. */
  peakRss(): number {
    return this.proc ? sumOverGroup(this.proc.pid, (pid) => procStatus(pid, 'VmHWM')) : 0;
  }

  /** User + system CPU seconds used so far by the group. */
  cpuSeconds(): number {
    return this.proc ? sumOverGroup(this.proc.pid, procCpu) : 0;
  }

  /** Stops the group by its leader's pid (SIGTERM, SIGKILL after `graceMs`) and waits for it to be gone. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.proc) await stopGroup(this.proc, graceMs);
  }
}
