// The routers a convergence run measures: ribstorm itself (`ribstorm run` as a child process)
// or BIRD from its Debian package, each started with a generated config on loopback, stopped by
// pid, and read for peak RSS and CPU time from /proc.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TargetPeer {
  address: string;
  asn: number;
}

export interface TargetOptions {
  address: string;
  port: number;
  asn: number;
  routerId: string;
  /** Every peer connects to the target; the target is passive towards all. */
  peers: TargetPeer[];
  /** ribstorm only: RIB worker threads. */
  workers?: number;
}

export interface Target {
  readonly name: string;
  readonly pid: number;
  start(): Promise<void>;
  /** Peak resident set (VmHWM) in bytes. */
  peakRss(): number;
  /** User + system CPU seconds used so far. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

export type TargetKind = 'ribstorm' | 'bird';

export function targetAvailable(kind: TargetKind): boolean {
  if (kind === 'ribstorm') return true;
  return existsSync('/usr/sbin/bird') && existsSync('/usr/sbin/birdc');
}

function procStatus(pid: number, field: string): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : 0;
}

function procCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks / 100;
}

abstract class ChildTarget implements Target {
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

class RibstormTarget extends ChildTarget {
  readonly name = 'ribstorm';

  constructor(private readonly o: TargetOptions) {
    super();
  }

  start(): Promise<void> {
    const bin = fileURLToPath(new URL('../../../bin/ribstorm.js', import.meta.url));
    // RIBSTORM_NODE_ARGS passes flags to the target's node, e.g. "--cpu-prof" to profile it.
    const nodeArgs = (process.env.RIBSTORM_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const args = [...nodeArgs, bin, 'run', '--as', String(this.o.asn), '--router-id', this.o.routerId, '--listen', `${this.o.address}:${this.o.port}`];
    if (this.o.workers) args.push('--workers', String(this.o.workers));
    for (const p of this.o.peers) args.push('--peer', `${p.address}:${p.asn},passive,import-policy=accept,export-policy=accept`);
    this.launch(process.execPath, args);
    return this.until(() => /ribstorm AS\d+ router-id/.test(this.log));
  }
}

class BirdTarget extends ChildTarget {
  readonly name = 'bird';
  private readonly dir = mkdtempSync(join(tmpdir(), 'ribstorm-bench-bird-'));

  constructor(private readonly o: TargetOptions) {
    super();
  }

  private config(): string {
    const peers = this.o.peers
      .map((p, i) => `protocol bgp p${i} from feed { neighbor ${p.address} as ${p.asn}; }`)
      .join('\n');
    // Loopback peers are multihop for BIRD; their next hops resolve through a side table with
    // a default route via lo. BIRD's own best-path defaults; next hop self towards everyone.
    return `router id ${this.o.routerId};
protocol device { }
ipv4 table igp4;
protocol static igp_v4 { ipv4 { table igp4; }; route 0.0.0.0/0 via "lo"; }
template bgp feed {
  local ${this.o.address} port ${this.o.port} as ${this.o.asn};
  strict bind yes;
  multihop;
  passive yes;
  ipv4 { import all; export all; igp table igp4; next hop self; };
}
${peers}
`;
  }

  start(): Promise<void> {
    const file = join(this.dir, 'bird.conf');
    writeFileSync(file, this.config());
    const sock = join(this.dir, 'bird.ctl');
    this.launch('/usr/sbin/bird', ['-f', '-c', file, '-s', sock, '-P', join(this.dir, 'bird.pid')]);
    // BIRD prints nothing when it starts well: ask its control socket.
    const up = () => /Daemon is up and running/.test(spawnSync('/usr/sbin/birdc', ['-s', sock, 'show', 'status'], { encoding: 'utf8', timeout: 2000 }).stdout ?? '');
    return this.until(up, 10_000);
  }
}

export function createTarget(kind: TargetKind, o: TargetOptions): Target {
  return kind === 'bird' ? new BirdTarget(o) : new RibstormTarget(o);
}
