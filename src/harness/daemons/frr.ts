// FRR 8.4's bgpd alone (Debian's frr; no zebra, no watchfrr, so nothing reaches the kernel),
// queried through vtysh on its own vty socket in the run directory: its two configs, its command
// line, and the questions the interop tests ask.
// - One neighbor (`create`, interop): IPv4 + IPv6 unicast with graceful restart, route-maps that
//   put a 198.18/15 or 2001:db8:: next hop on originated routes, martian next hops allowed.
// - N passive IPv4 peers (`startPassive`, bench): FRR's own best-path defaults (traditional
//   profile, as Debian builds it: no deterministic-med, no compare-routerid), RFC 8212's default
//   deny lifted, next hop self towards the sink.
// frrOutput.ts reads what vtysh prints.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { nextHops, notInstalled, type Daemon, type DaemonOptions, type PassivePeers, type SessionView } from './daemon.js';
import { keepalivesFromNeighborJson, parseNeighborJson, parsePrefixDetail, type FrrPrefixDetail } from './frrOutput.js';
import { DaemonProcess, hasBinary, runCli, waitFor, type CliResult, type Placement } from './proc.js';
import type { RouteView } from './routeView.js';

export { nextHops } from './daemon.js';
export { lastError, parseCapabilities, parsePrefixDetail } from './frrOutput.js';

export const PACKAGE = 'frr';
// Debian's path; OpenBGPD's daemon is called bgpd too.
const BGPD = '/usr/lib/frr/bgpd';

/** bgpd runs unprivileged too with -S on an unprivileged port (it only warns about its crash-log directory). */
export function unavailable(): string | null {
  return hasBinary(BGPD) && hasBinary('vtysh') ? null : notInstalled(PACKAGE);
}

export function available(): boolean {
  return unavailable() === null;
}

export interface FrrDaemon extends Daemon {
  readonly name: 'frr';
  /** Runs vtysh commands in order, in one session (so `configure terminal` carries over). */
  vtysh(commands: string[], timeoutMs?: number): Promise<string>;
  /** Routes received from the neighbor and kept (`show bgp ipv4|ipv6 unicast PREFIX json`), IPv4 unless 'ipv6'. */
  receivedRoutes(family?: 'ipv4' | 'ipv6'): Promise<RouteView[]>;
}

/** bgpd.conf for one neighbor (the interop tests). */
export function configText(opts: DaemonOptions): string {
  const { peer } = opts;
  const n = `neighbor ${peer.address}`;
  const keepalive = Math.max(1, Math.floor(peer.holdTime / 3));
  const nh = nextHops(opts.address);
  const family = (afi: string, routeMap: string) => ` address-family ${afi} unicast
  ${n} activate
  ${n} route-map ${routeMap} out
 exit-address-family`;
  return `frr defaults traditional
hostname frr-${opts.address.replace(/\./g, '-')}
log stdout informational
!
router bgp ${opts.asn}
 bgp router-id ${opts.routerId}
 bgp log-neighbor-changes
 ! RFC 8212 default deny off; networks need no zebra RIB entry; keep 127/8 next hops
 no bgp ebgp-requires-policy
 no bgp network import-check
 bgp allow-martian-nexthop
 no bgp default ipv4-unicast
 bgp graceful-restart
 ${n} remote-as ${peer.asn}
 ${n} port ${peer.port}
 ${n} update-source ${opts.address}
 ${n} disable-connected-check
 ${n} timers ${keepalive} ${peer.holdTime}
 ${n} timers connect 5
${peer.passive ? ` ${n} passive\n` : ''} !
${family('ipv4', 'next-hop-v4')}
${family('ipv6', 'next-hop-v6')}
!
! Next hops of originated routes: out of 127/8 (GoBGP drops those), and a global IPv6 one
! instead of the :: FRR has on an IPv4 session without IPv6 addresses.
route-map next-hop-v4 permit 10
 set ip next-hop ${nh.ipv4}
!
route-map next-hop-v6 permit 10
 set ipv6 next-hop global ${nh.ipv6}
!
`;
}
/** bgpd.conf for N passive IPv4 peers (the bench). */
export function passiveConfig(o: PassivePeers): string {
  const sink = o.peers[0];
  const session = o.peers
    .map((p) => {
      const n = ` neighbor ${p.address}`;
      // No zebra (-Z) means no interface data: loopback peers are not "connected" without
      // disable-connected-check.
      return `${n} remote-as ${p.asn}\n${n} update-source ${o.address}\n${n} disable-connected-check\n${n} passive`;
    })
    .join('\n');
  const activate = o.peers.map((p) => `  neighbor ${p.address} activate`).join('\n');
  return `frr defaults traditional
hostname ribstorm-bench
log stdout warnings
!
router bgp ${o.asn}
 bgp router-id ${o.routerId}
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

/** bgpd in its run directory: config, pid file, vty socket and an empty vtysh.conf there. */
export class FrrProcess extends DaemonProcess {
  constructor(at: Placement) {
    super('bgpd', at, join(at.runDir, 'bgpd.log'));
  }

  /** Starts bgpd with `config`; resolves once it listens and vtysh reaches it. */
  async run(config: string): Promise<void> {
    const { runDir, address, port } = this.at;
    // bgpd binds its vty socket at RUNDIR/bgpd.vty; sun_path holds 108 bytes.
    if (join(runDir, 'bgpd.vty').length > 107) throw new Error(`frr: run directory too long for a socket: ${runDir}`);
    const conf = this.file('bgpd.conf', config);
    this.file('vtysh.conf', ''); // so vtysh never reads /etc/frr/vtysh.conf
    // -Z: no zebra, so nothing reaches the kernel; -S: stay root (no frr user switch);
    // -P 0: no TCP vty port, only the unix socket in runDir.
    const args = ['-Z', '-S', '-l', address, '-p', String(port), '-f', conf, '-i', join(runDir, 'bgpd.pid'), '--vty_socket', runDir, '-P', '0'];
    await this.launch(BGPD, args, {
      what: `bgpd on ${address}:${port}`,
      until: async () => this.listening() && (await this.vtyshRaw(['show bgp summary json'], 2_000)).code === 0,
      timeoutMs: 20_000,
    });
  }

  /** Runs vtysh commands against this instance only: its own vty socket and vtysh.conf. */
  protected vtyshRaw(commands: string[], timeoutMs: number): Promise<CliResult> {
    const { runDir } = this.at;
    const args = ['--config_dir', runDir, '--vty_socket', runDir, '-d', 'bgpd'];
    for (const c of commands) args.push('-c', c);
    return runCli('vtysh', args, timeoutMs);
  }

  /** Runs vtysh commands in order, in one session (so `configure terminal` carries over). */
  async vtysh(commands: string[], timeoutMs = 10_000): Promise<string> {
    const r = await this.vtyshRaw(commands, timeoutMs);
    // vtysh exits non-zero on a rejected command but may print the error on stdout.
    if (r.code !== 0) throw new Error(`vtysh ${commands.join(' / ')} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  }

  override async stop(graceMs?: number): Promise<void> {
    if (!this.proc) return;
    await super.stop(graceMs);
    // FRR's crash-log directory for this pid, outside the run directory.
    rmSync(`/var/tmp/frr/bgpd.${this.proc.pid}`, { recursive: true, force: true });
  }
}

/** FRR as the bench's router under test. */
export async function startPassive(runDir: string, o: PassivePeers): Promise<DaemonProcess> {
  const p = new FrrProcess({ runDir, address: o.address, port: o.port });
  await p.run(passiveConfig(o));
  return p;
}

export function create(opts: DaemonOptions): FrrDaemon {
  return new Frr(opts);
}

class Frr extends FrrProcess implements FrrDaemon {
  readonly name = 'frr' as const;

  constructor(private readonly opts: DaemonOptions) {
    super(opts);
  }

  start(): Promise<void> {
    return this.run(configText(this.opts));
  }

  async receivedRoutes(family: 'ipv4' | 'ipv6' = 'ipv4'): Promise<RouteView[]> {
    const table = JSON.parse(await this.vtysh([`show bgp ${family} unicast json`])) as { routes?: Record<string, unknown> };
    const out: RouteView[] = [];
    for (const prefix of Object.keys(table.routes ?? {})) {
      // The table summary lacks communities; the per-prefix view has every attribute.
      const detail = JSON.parse(await this.vtysh([`show bgp ${family} unicast ${prefix} json`])) as FrrPrefixDetail;
      out.push(...parsePrefixDetail(prefix, detail, this.opts.peer.address));
    }
    return out;
  }

  private neighborJson(): Promise<string> {
    return this.vtysh([`show bgp neighbors ${this.opts.peer.address} json`]);
  }

  async session(): Promise<SessionView> {
    return parseNeighborJson(await this.neighborJson(), this.opts.peer.address);
  }

  async keepalivesReceived(): Promise<number> {
    return keepalivesFromNeighborJson(await this.neighborJson(), this.opts.peer.address);
  }

  async shutdownPeer(text: string): Promise<void> {
    const up = async () => (await this.session()).established;
    await waitFor('frr session Established before shutdown', up, 5_000, 200);
    const router = `router bgp ${this.opts.asn}`;
    const n = `neighbor ${this.opts.peer.address}`;
    // bgpd writes the NOTIFICATION before the command returns; lifting the shutdown right away
    // makes it one Cease (like GoBGP's), after which FRR may connect again.
    await this.vtysh(['configure terminal', router, `${n} shutdown message ${text}`]);
    await this.vtysh(['configure terminal', router, `no ${n} shutdown`]);
  }
}
