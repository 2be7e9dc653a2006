// Process helpers shared by the interop daemon drivers: start a daemon in its own process
// group, wait for conditions, run its CLI with a timeout, and stop exactly what we started.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { accessSync, constants, openSync, closeSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface Started {
  readonly child: ChildProcess;
  /** Pid of the leader, which is also the process group id (spawned detached). */
  readonly pid: number;
  /** Resolves once the leader has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
}

// Groups still alive, so a crashing test run does not leave daemons behind.
const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** True when `bin` (a path, or a name looked up on PATH) is an executable file. */
export function hasBinary(bin: string): boolean {
  const candidates = bin.includes('/')
    ? [bin]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .concat(['/usr/sbin', '/sbin', '/usr/lib/frr'])
        .map((dir) => join(dir, bin));
  return candidates.some((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Spawns `cmd` detached (its own process group, so pause/stop reach the daemon's forked
 * children too), stdout and stderr appended to `logFile`.
 */
export function startDetached(
  cmd: string,
  args: string[],
  opts: { cwd: string; logFile: string; env?: NodeJS.ProcessEnv },
): Started {
  const logFd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
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
  // The test runner must not wait on the daemon; stop() / the exit hook clean up.
  child.unref();
  return { child, pid, exited, hasExited: () => done };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until it returns true; throws after `timeoutMs` with the last failure. */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<void> {
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
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && (err as { killed?: boolean }).killed) {
          reject(new Error(`${cmd} ${args.join(' ')} timed out after ${timeoutMs} ms`));
          return;
        }
        if (err && typeof err.code !== 'number') {
          reject(err);
          return;
        }
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/** Like runCli, but throws with the output when the command fails. */
export async function runCliOk(cmd: string, args: string[], timeoutMs = 5_000): Promise<string> {
  const r = await runCli(cmd, args, timeoutMs);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  }
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

/** The last `lines` lines of a log file, for error messages ('' if unreadable). */
export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * waitFor, but gives up at once (with the log tail) when the daemon we started has exited,
 * so a config error surfaces immediately instead of as a timeout.
 */
export async function waitForDaemon(
  p: Started,
  logFile: string,
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  let exited = false;
  try {
    await waitFor(
      what,
      async () => {
        if (p.hasExited()) {
          exited = true;
          return true;
        }
        return cond();
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- ${logFile} ---\n${logTail(logFile)}`);
  }
  if (exited) throw new Error(`daemon exited while waiting for ${what}\n--- ${logFile} ---\n${logTail(logFile)}`);
}

/** What every class-based driver does with the process group it started. */
export abstract class GroupDriver {
  protected proc: Started | null = null;
  /** The daemon's name in errors. */
  protected abstract readonly label: string;

  get pid(): number {
    if (!this.proc) throw new Error(`${this.label}: not started`);
    return this.proc.pid;
  }

  pause(): void {
    signalGroup(this.pid, 'SIGSTOP');
  }

  resume(): void {
    signalGroup(this.pid, 'SIGCONT');
  }

  async stop(): Promise<void> {
    if (this.proc) await stopGroup(this.proc);
  }
}
