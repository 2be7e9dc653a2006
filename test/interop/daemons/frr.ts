// Interop driver for FRR 8.4: bgpd alone (no zebra, no watchfrr), queried through vtysh.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { notInstalled, type CapabilityName, type Daemon, type DaemonOptions, type SessionView } from '../daemon.js';
import { normaliseRoute, type RouteView } from '../routeView.js';
import {
  type CliResult,
  GroupDriver,
  hasBinary,
  isListening,
  runCli,
  startDetached,
  type Started,
  waitFor,
  waitForDaemon,
} from './proc.js';

const BGPD = '/usr/lib/frr/bgpd';

/** bgpd runs unprivileged too with -S on an unprivileged port (it only warns about its crash-log directory). */
export function unavailable(): string | null {
  return hasBinary(BGPD) && hasBinary('vtysh') ? null : notInstalled('frr');
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

export function create(opts: DaemonOptions): FrrDaemon {
  return new Frr(opts);
}

/** Next hops FRR puts on the routes it originates: GoBGP and FRR both reject 127/8 ones. */
export function nextHops(address: string): { ipv4: string; ipv6: string } {
  const [, , b, c] = address.split('.');
  return { ipv4: `198.18.${b}.${c}`, ipv6: `2001:db8::${b}:${c}` };
}

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

class Frr extends GroupDriver implements FrrDaemon {
  protected readonly label = 'bgpd';
  readonly name = 'frr' as const;
  private readonly logFile: string;

  constructor(private readonly opts: DaemonOptions) {
    super();
    this.logFile = join(opts.runDir, 'bgpd.log');
  }


  /**
   * Runs vtysh commands against this instance only: its own vty socket directory, and an empty
   * vtysh.conf there so /etc/frr/vtysh.conf is never read.
   */
  async vtysh(commands: string[], timeoutMs = 10_000): Promise<string> {
    const r = await this.vtyshRaw(commands, timeoutMs);
    // vtysh exits non-zero on a rejected command but may print the error on stdout.
    if (r.code !== 0) {
      throw new Error(`vtysh ${commands.join(' / ')} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
    }
    return r.stdout;
  }

  private vtyshRaw(commands: string[], timeoutMs: number): Promise<CliResult> {
    const { runDir } = this.opts;
    const args = ['--config_dir', runDir, '--vty_socket', runDir, '-d', 'bgpd'];
    for (const c of commands) args.push('-c', c);
    return runCli('vtysh', args, timeoutMs);
  }

  async start(): Promise<void> {
    const { runDir, address, port } = this.opts;
    // bgpd binds its vty socket at RUNDIR/bgpd.vty; longer paths fail on the sun_path limit.
    if (join(runDir, 'bgpd.vty').length > 107) throw new Error(`frr: runDir too long for a socket: ${runDir}`);
    mkdirSync(runDir, { recursive: true });
    const conf = join(runDir, 'bgpd.conf');
    writeFileSync(conf, configText(this.opts));
    writeFileSync(join(runDir, 'vtysh.conf'), '');
    // -Z: no zebra, so nothing reaches the kernel; -S: stay root (no frr user switch);
    // -P 0: no TCP vty port, only the unix socket in runDir.
    const proc = startDetached(
      BGPD,
      ['-Z', '-S', '-l', address, '-p', String(port), '-f', conf, '-i', join(runDir, 'bgpd.pid')].concat(
        ['--vty_socket', runDir, '-P', '0'],
      ),
      { cwd: runDir, logFile: this.logFile },
    );
    this.proc = proc;
    try {
      await waitForDaemon(
        proc,
        this.logFile,
        `bgpd on ${address}:${port}`,
        async () =>
          isListening(address, port) && (await this.vtyshRaw(['show bgp summary json'], 2_000)).code === 0,
        15_000,
      );
    } catch (err) {
      await this.stop();
      throw err;
    }
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

  async session(): Promise<SessionView> {
    const peerAddr = this.opts.peer.address;
    const out = await this.vtysh([`show bgp neighbors ${peerAddr} json`]);
    const all = JSON.parse(out) as Record<string, FrrNeighbor>;
    const n = all[peerAddr];
    if (!n) throw new Error(`frr: neighbor ${peerAddr} not configured`);
    const state = n.bgpState ?? 'unknown';
    const established = state === 'Established';
    const caps = established && n.neighborCapabilities ? parseCapabilities(n.neighborCapabilities) : null;
    return {
      established,
      state,
      localCapabilities: caps ? caps.local : null,
      remoteCapabilities: caps ? caps.remote : null,
      holdTime: established && n.bgpTimerHoldTimeMsecs !== undefined ? n.bgpTimerHoldTimeMsecs / 1000 : null,
      lastError: lastError(n),
    };
  }

  async keepalivesReceived(): Promise<number> {
    const peerAddr = this.opts.peer.address;
    const all = JSON.parse(await this.vtysh([`show bgp neighbors ${peerAddr} json`])) as Record<string, FrrNeighbor>;
    return all[peerAddr]?.messageStats?.keepalivesRecv ?? 0;
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


  override async stop(): Promise<void> {
    if (!this.proc) return;
    await super.stop();
    // FRR's crash-log directory for this pid, outside the run directory.
    rmSync(`/var/tmp/frr/bgpd.${this.proc.pid}`, { recursive: true, force: true });
  }
}

interface FrrNeighbor {
  bgpState?: string;
  messageStats?: { keepalivesRecv?: number };
  bgpTimerHoldTimeMsecs?: number;
  neighborCapabilities?: Record<string, unknown>;
  lastResetDueTo?: string;
  lastResetCode?: number;
  lastNotificationReason?: string;
  lastShutdownDescription?: string;
  lastErrorCodeSubcode?: string;
}

const CAPABILITY_KEYS: Record<string, CapabilityName> = {
  '4byteAs': 'asn4',
  routeRefresh: 'route-refresh',
  enhancedRouteRefresh: 'enhanced-route-refresh',
  gracefulRestart: 'graceful-restart',
  longLivedGracefulRestart: 'llgr',
  extendedMessage: 'extended-message',
  extendedNexthop: 'extended-nexthop',
  role: 'role',
  dynamic: 'dynamic',
};

// Keys of neighborCapabilities that describe negotiation results, not capabilities.
const NOT_CAPABILITIES = new Set([
  'addressFamiliesByPeer',
  'extendedNexthopFamililesByPeer', // sic
  'gracefulRestartRemoteTimerMsecs',
]);

const kebab = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

/** Splits FRR's neighborCapabilities ("advertised" / "received" / "advertisedAndReceived…") in two. */
export function parseCapabilities(caps: Record<string, unknown>): {
  local: CapabilityName[];
  remote: CapabilityName[];
} {
  const local = new Set<CapabilityName>();
  const remote = new Set<CapabilityName>();
  const mark = (name: CapabilityName, how: string) => {
    if (/advertised/i.test(how)) local.add(name);
    if (/received/i.test(how)) remote.add(name);
  };
  for (const [key, value] of Object.entries(caps)) {
    if (NOT_CAPABILITIES.has(key)) continue;
    if (key === 'multiprotocolExtensions' && isObject(value)) {
      for (const [fam, how] of Object.entries(value)) {
        const name = `multiprotocol:${kebab(fam).replace(/ /g, '-')}`;
        if (isObject(how)) for (const [k, on] of Object.entries(how)) if (on === true) mark(name, k);
      }
    } else if (key === 'addPath' && isObject(value)) {
      for (const how of Object.values(value)) {
        if (isObject(how)) for (const [k, on] of Object.entries(how)) if (on === true) mark('add-path', k);
      }
    } else if (key === 'hostName' && isObject(value)) {
      if (typeof value.advHostName === 'string') local.add('fqdn');
      if (typeof value.rcvHostName === 'string' && value.rcvHostName !== 'n/a') remote.add('fqdn');
    } else if (key === 'routeRefresh' && typeof value === 'string') {
      // FRR always sends both the RFC 2918 code (2) and the pre-standard one (128);
      // "...Old"/"...New" tell which the neighbor sent.
      if (/advertised/i.test(value)) local.add('route-refresh').add('route-refresh-cisco');
      if (/ReceivedOld/.test(value)) remote.add('route-refresh-cisco');
      if (/ReceivedNew$|ReceivedOldNew$/.test(value) || value === 'received') remote.add('route-refresh');
    } else if (typeof value === 'string') {
      mark(CAPABILITY_KEYS[key] ?? kebab(key), value);
    }
  }
  return { local: [...local], remote: [...remote] };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// lastResetCode values (FRR's peer_down_str) that are configuration churn, not session errors:
// e.g. 30 "No AFI/SAFI activated for peer" shows up at every start with `no bgp default ipv4-unicast`.
const CONFIG_RESETS = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 23, 27, 28, 29, 30, 31]);

/** "BGP Notification received: Cease/Administrative Shutdown: "text"" and the like. */
export function lastError(n: FrrNeighbor): string {
  const parts: string[] = [];
  if (n.lastResetDueTo && !(n.lastResetCode !== undefined && CONFIG_RESETS.has(n.lastResetCode))) {
    parts.push(n.lastResetDueTo);
  }
  if (n.lastNotificationReason) parts.push(n.lastNotificationReason);
  // Set only for a received Cease/Administrative Shutdown or Reset carrying a communication.
  if (n.lastShutdownDescription) parts.push(`"${n.lastShutdownDescription}"`);
  return parts.join(': ');
}

interface FrrPath {
  aspath?: { string?: string; segments?: Array<{ list?: number[] }> };
  /** MED (absent when the route has none). */
  metric?: number;
  /** LOCAL_PREF. */
  locPrf?: number;
  community?: { string?: string; list?: string[] };
  largeCommunity?: { string?: string; list?: string[] };
  extendedCommunity?: { string?: string };
  nexthops?: Array<{ ip?: string }>;
  peer?: { peerId?: string };
}

interface FrrPrefixDetail {
  prefix?: string;
  paths?: FrrPath[];
}

/** The paths of `show bgp ipv4|ipv6 unicast PREFIX json` learned from `neighbor` (next hop: the first, global one). */
export function parsePrefixDetail(prefix: string, detail: FrrPrefixDetail, neighbor: string): RouteView[] {
  const words = (s: string | undefined) => (s ?? '').split(/\s+/).filter(Boolean);
  return (detail.paths ?? [])
    .filter((p) => p.peer?.peerId === neighbor)
    .map((p) =>
      normaliseRoute({
        prefix: detail.prefix ?? prefix,
        asPath: p.aspath?.segments ? p.aspath.segments.flatMap((s) => s.list ?? []) : words(p.aspath?.string).map(Number).filter(Number.isFinite),
        nextHop: p.nexthops?.[0]?.ip ?? '',
        med: p.metric ?? null,
        localPref: p.locPrf ?? null,
        communities: p.community?.list ?? words(p.community?.string),
        largeCommunities: p.largeCommunity?.list ?? words(p.largeCommunity?.string),
        // "RT:65131:7 SoO:..." -> rt:65131:7
        extendedCommunities: words(p.extendedCommunity?.string).map((w) => w.replace(/^RT:/, 'rt:')),
      }),
    );
}
