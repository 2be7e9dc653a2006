// The routers a convergence run measures: ribstorm itself (`ribstorm run` as a child process)
// or BIRD, GoBGP, FRR's bgpd or OpenBGPD from their Debian packages, each started with a
// generated config on loopback in its own process group (and run directory), stopped by pid or
// process group, and read for peak RSS and CPU time from /proc.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SIZING } from '../../rib/memory.js';

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
  /** ribstorm only: what the run loads, to size its RIB from (absent: the defaults). */
  load?: TargetLoad;
}

/** What a run puts into a target at most. */
export interface TargetLoad {
  /** Distinct IPv4 / IPv6 prefixes. */
  prefixes: number;
  prefixes6: number;
  /** Paths over all sending peers. */
  paths: number;
  /** Distinct attribute sets over all sending peers. */
  attributeSets: number;
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

export const TARGET_KINDS = ['ribstorm', 'bird', 'gobgp', 'frr', 'openbgpd'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

// Debian's paths. FRR's and OpenBGPD's daemons are both called bgpd.
const BIN = {
  bird: '/usr/sbin/bird',
  birdc: '/usr/sbin/birdc',
  gobgpd: '/usr/bin/gobgpd',
  gobgp: '/usr/bin/gobgp',
  frrBgpd: '/usr/lib/frr/bgpd',
  vtysh: '/usr/bin/vtysh',
  openbgpd: '/usr/sbin/bgpd',
  bgpctl: '/usr/sbin/bgpctl',
};

/** The Debian package that provides a target (null: built in). */
export const TARGET_PACKAGES: Record<TargetKind, string | null> = {
  ribstorm: null,
  bird: 'bird2',
  gobgp: 'gobgpd',
  frr: 'frr',
  openbgpd: 'openbgpd',
};

export function targetAvailable(kind: TargetKind): boolean {
  switch (kind) {
    case 'ribstorm':
      return true;
    case 'bird':
      return existsSync(BIN.bird) && existsSync(BIN.birdc);
    case 'gobgp':
      return existsSync(BIN.gobgpd) && existsSync(BIN.gobgp);
    case 'frr':
      return existsSync(BIN.frrBgpd) && existsSync(BIN.vtysh);
    case 'openbgpd':
      return existsSync(BIN.openbgpd) && existsSync(BIN.bgpctl);
  }
}

/** A `kB` field of /proc/PID/status, in bytes. */
export function procStatus(pid: number, field: string): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** User + system CPU seconds of one process. */
export function procCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks / 100;
}

/** The processes in process group `pgid` (a daemon we started detached, and what it forked). */
function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) pids.push(Number(entry)); // state, ppid, pgrp
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function sumOverGroup(pgid: number, read: (pid: number) => number): number {
  let total = 0;
  for (const pid of groupPids(pgid)) {
    try {
      total += read(pid);
    } catch {
      // exited between listing and reading
    }
  }
  return total;
}

/** True while any process of group `pgid` exists (zombies included). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/**
 * True when something listens on TCP `address`:`port`, read from /proc/net/tcp so that checking
 * does not open a connection the daemon would take for a stray peer.
 */
function isListening(address: string, port: number): boolean {
  const hex = Buffer.from(address.split('.').map(Number)).readUInt32LE(0).toString(16).toUpperCase().padStart(8, '0');
  const local = `${hex}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return false;
  }
  return table.split('\n').some((line) => {
    const f = line.trim().split(/\s+/);
    return f[1] === local && f[3] === '0A';
  });
}

// Process groups of daemons still running, killed if the bench exits without stopping them.
const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
});

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

/**
 * The `[rib]` table for a run: the defaults, raised to what the run loads with a quarter to
 * spare. Tables are reserved address space, committed as they fill.
 */
export function ribstormRib(load: TargetLoad | undefined, workers?: number): Record<string, number> {
  const room = (n: number, min: number) => Math.max(min, Math.ceil(n * 1.25));
  const d = DEFAULT_SIZING;
  return {
    ...(workers ? { workers } : {}),
    prefixes: room(load?.prefixes ?? 0, d.prefixes),
    prefixes6: room(load?.prefixes6 ?? 0, d.prefixes6),
    paths: room(load?.paths ?? 0, d.paths),
    'attribute-sets': room(load?.attributeSets ?? 0, d.attributeSets),
  };
}

/** ribstorm's config file for a run: passive towards every peer, RIB sized for the load. */
export function ribstormConfig(o: TargetOptions): string {
  const rib = ribstormRib(o.load, o.workers);
  return [
    '[global]',
    `asn = ${o.asn}`,
    `router-id = "${o.routerId}"`,
    `listen-addresses = ["${o.address}"]`,
    `listen-port = ${o.port}`,
    '',
    '[rib]',
    ...Object.entries(rib).map(([k, v]) => `${k} = ${v}`),
    ...o.peers.flatMap((p) => ['', '[[neighbors]]', `address = "${p.address}"`, `remote-as = ${p.asn}`, 'passive = true', 'import-policy = "accept"', 'export-policy = "accept"']),
    '',
  ].join('\n');
}

class RibstormTarget extends ChildTarget {
  readonly name = 'ribstorm';
  private dir: string | null = null;

  constructor(private readonly o: TargetOptions) {
    super();
  }

  start(): Promise<void> {
    const bin = fileURLToPath(new URL('../../../../bin/ribstorm.js', import.meta.url));
    // RIBSTORM_NODE_ARGS passes flags to the target's node, e.g. "--cpu-prof" to profile it.
    const nodeArgs = (process.env.RIBSTORM_NODE_ARGS ?? '').split(' ').filter(Boolean);
    // A config file: the RIB's sizing has no flags.
    this.dir = mkdtempSync(join(tmpdir(), 'ribstorm-bench-ribstorm-'));
    const file = join(this.dir, 'ribstorm.toml');
    writeFileSync(file, ribstormConfig(this.o));
    this.launch(process.execPath, [...nodeArgs, bin, 'run', '--config', file]);
    return this.until(() => /ribstorm AS\d+ router-id/.test(this.log));
  }

  override async stop(): Promise<void> {
    await super.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}

class BirdTarget extends ChildTarget {
  readonly name = 'bird';
  private readonly dir = mkdtempSync(join(tmpdir(), 'ribstorm-bench-bird-'));

  constructor(private readonly o: TargetOptions) {
    super();
  }

  override async stop(): Promise<void> {
    await super.stop();
    rmSync(this.dir, { recursive: true, force: true });
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

/**
 * A daemon that runs from its own directory under os.tmpdir() and is measured and stopped as
 * its whole process group: OpenBGPD forks three children (session engine, RDE, RTR) whose RSS
 * and CPU count too; for single-process daemons the group is the one process.
 */
abstract class GroupTarget extends ChildTarget {
  protected readonly dir: string;

  constructor(dirPrefix: string) {
    super();
    this.dir = mkdtempSync(join(tmpdir(), `ribstorm-bench-${dirPrefix}-`));
  }

  protected override launch(cmd: string, args: string[]): void {
    super.launch(cmd, args);
    if (this.pid) liveGroups.add(this.pid);
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
      liveGroups.delete(pgid);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Waits for the daemon to accept sessions on the target address and for its CLI to answer. */
  protected ready(cliUp: () => boolean, timeoutMs = 20_000): Promise<void> {
    return this.until(() => isListening(this.o.address, this.o.port) && cliUp(), timeoutMs);
  }

  protected abstract readonly o: TargetOptions;
}

function cliOk(cmd: string, args: string[]): { ok: boolean; stdout: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 2000 });
  return { ok: r.status === 0, stdout: r.stdout ?? '' };
}

class GoBgpTarget extends GroupTarget {
  readonly name = 'gobgp';

  constructor(protected readonly o: TargetOptions) {
    super('gobgp');
  }

  private config(): string {
    // eBGP: GoBGP rewrites the next hop to the session's local address towards every peer,
    // the sink included (next hop self). Default import/export policies accept everything.
    const neighbors = this.o.peers
      .map(
        (p) => `
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${p.address}"
    peer-as = ${p.asn}
  [neighbors.transport.config]
    local-address = "${this.o.address}"
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"`,
      )
      .join('\n');
    return `[global.config]
  as = ${this.o.asn}
  router-id = "${this.o.routerId}"
  port = ${this.o.port}
  local-address-list = ["${this.o.address}"]
[global.apply-policy.config]
  default-import-policy = "accept-route"
  default-export-policy = "accept-route"
${neighbors}
`;
  }

  start(): Promise<void> {
    const file = join(this.dir, 'gobgpd.toml');
    writeFileSync(file, this.config());
    // The gRPC API on the target's own address, so it cannot clash with another instance's.
    const api = ['-u', this.o.address, '-p', '50051'];
    this.launch(BIN.gobgpd, ['-f', file, '--api-hosts', `${this.o.address}:50051`, '--pprof-disable']);
    // gobgpd listens before it has added the neighbors from its file: wait until the API lists
    // all of them, or an early OPEN would meet an unknown peer. (Never polled during the run:
    // GoBGP's neighbor query stalls its route processing.)
    const up = () => {
      const r = cliOk(BIN.gobgp, [...api, 'neighbor', '-j']);
      if (!r.ok) return false;
      try {
        return (JSON.parse(r.stdout) as unknown[]).length === this.o.peers.length;
      } catch {
        return false;
      }
    };
    return this.ready(up);
  }
}

class FrrTarget extends GroupTarget {
  readonly name = 'frr';

  constructor(protected readonly o: TargetOptions) {
    super('frr');
  }

  private config(): string {
    const sink = this.o.peers[0];
    const session = this.o.peers
      .map((p) => {
        const n = ` neighbor ${p.address}`;
        // No zebra (-Z) means no interface data: loopback peers are not "connected" without
        // disable-connected-check.
        return `${n} remote-as ${p.asn}\n${n} update-source ${this.o.address}\n${n} disable-connected-check\n${n} passive`;
      })
      .join('\n');
    const activate = this.o.peers.map((p) => `  neighbor ${p.address} activate`).join('\n');
    // FRR's own best-path defaults (traditional profile, as Debian builds it): no
    // deterministic-med, no compare-routerid. RFC 8212's default deny is lifted.
    return `frr defaults traditional
hostname ribstorm-bench
log stdout warnings
!
router bgp ${this.o.asn}
 bgp router-id ${this.o.routerId}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
${session}
 !
 address-family ipv4 unicast
${activate}
  neighbor ${sink.address} next-hop-self
 exit-address-family
!
`;
  }

  start(): Promise<void> {
    // bgpd binds RUNDIR/bgpd.vty; sun_path holds 108 bytes.
    if (join(this.dir, 'bgpd.vty').length > 107) throw new Error(`frr: run directory too long for a socket: ${this.dir}`);
    const file = join(this.dir, 'bgpd.conf');
    writeFileSync(file, this.config());
    writeFileSync(join(this.dir, 'vtysh.conf'), ''); // so vtysh never reads /etc/frr
    // -Z: no zebra, nothing reaches the kernel; -S: stay root; -P 0: only the unix vty socket.
    this.launch(BIN.frrBgpd, [
      '-Z', '-S', '-l', this.o.address, '-p', String(this.o.port), '-f', file,
      '-i', join(this.dir, 'bgpd.pid'), '--vty_socket', this.dir, '-P', '0',
    ]);
    const vtysh = ['--config_dir', this.dir, '--vty_socket', this.dir, '-d', 'bgpd', '-c', 'show bgp summary json'];
    return this.ready(() => cliOk(BIN.vtysh, vtysh).ok);
  }
}

class OpenBgpdTarget extends GroupTarget {
  readonly name = 'openbgpd';
  private readonly socket = join(this.dir, 'bgpd.sock');

  constructor(protected readonly o: TargetOptions) {
    super('openbgpd');
  }

  private config(): string {
    const [sink, ...senders] = this.o.peers;
    const neighbor = (p: TargetPeer, extra = '') => `neighbor ${p.address} {
  remote-as ${p.asn}
  local-address ${this.o.address}
  multihop 2
  passive${extra}
}`;
    // Loopback peers are multihop (as for BIRD); 198.18.0.0/15 next hops are covered only by
    // the host's default route, hence `nexthop qualify via default`. OpenBGPD's best-path
    // defaults; its filters deny by default, so allow everything both ways.
    return `AS ${this.o.asn}
router-id ${this.o.routerId}
socket "${this.socket}"
listen on ${this.o.address} port ${this.o.port}
fib-update no
nexthop qualify via default

${neighbor(sink, '\n  set nexthop self')}
${senders.map((p) => neighbor(p)).join('\n')}

allow from any
allow to any
`;
  }

  start(): Promise<void> {
    const file = join(this.dir, 'bgpd.conf');
    writeFileSync(file, this.config());
    chmodSync(file, 0o600); // bgpd refuses group- or world-readable configs
    mkdirSync('/run/openbgpd', { recursive: true }); // its children chroot there
    // -d: foreground, log to stderr; the children stay in bgpd's process group.
    this.launch(BIN.openbgpd, ['-d', '-f', file]);
    return this.ready(() => cliOk(BIN.bgpctl, ['-s', this.socket, 'show', 'summary']).ok);
  }
}

export function createTarget(kind: TargetKind, o: TargetOptions): Target {
  switch (kind) {
    case 'ribstorm':
      return new RibstormTarget(o);
    case 'bird':
      return new BirdTarget(o);
    case 'gobgp':
      return new GoBgpTarget(o);
    case 'frr':
      return new FrrTarget(o);
    case 'openbgpd':
      return new OpenBgpdTarget(o);
  }
}
