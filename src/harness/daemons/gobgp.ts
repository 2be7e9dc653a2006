// GoBGP 3.10 (Debian's gobgpd: `gobgpd` + the `gobgp` CLI over its gRPC API, on a port found
// free at run time on the instance's own address): its two configs, its command line, and the
// questions the interop tests ask through the CLI.
// - One neighbor (`create`, interop): IPv4 + IPv6 unicast with graceful restart, an export
//   policy that puts a 198.18/15 or 2001:db8:: next hop on what it sends.
// - N passive IPv4 peers (`startPassive`, bench): accept everything both ways; eBGP rewrites
//   the next hop to the session's local address towards every peer, the sink included.
// gobgpOutput.ts reads what the CLI prints and what gobgpd logs.

import { join } from 'node:path';
import { nextHops, notInstalled, type Daemon, type DaemonOptions, type PassivePeers, type SessionView } from './daemon.js';
import { keepalivesFromNeighborJson, parseNeighborJson, parseRibAttributes, parseRibJson, type GoBgpPathAttributes } from './gobgpOutput.js';
import { DaemonProcess, freePort, hasBinary, runCli, runCliOk, waitFor, type Placement } from './proc.js';
import type { RouteView } from './routeView.js';

export { nextHops } from './daemon.js';
export { capabilityName, lastErrorFromLog, parseRibAttributes, parseRibJson, type GoBgpPathAttributes } from './gobgpOutput.js';

export const PACKAGE = 'gobgpd';

export function unavailable(): string | null {
  return hasBinary('gobgpd') && hasBinary('gobgp') ? null : notInstalled(PACKAGE);
}

export function available(): boolean {
  return unavailable() === null;
}

export interface GoBgpDaemon extends Daemon {
  readonly name: 'gobgp';
  /** Runs the `gobgp` CLI against this instance's API, e.g. ['global', 'rib', 'add', ...]. */
  cli(args: string[], timeoutMs?: number): Promise<string>;
  /** Routes received from the neighbor (its Adj-RIB-In, before import policy), IPv4 unless 'ipv6'. */
  receivedRoutes(family?: 'ipv4' | 'ipv6'): Promise<RouteView[]>;
  /** The same paths with their attributes as GoBGP's JSON gives them, keyed by attribute type code. */
  receivedAttributes(family?: 'ipv4' | 'ipv6'): Promise<GoBgpPathAttributes[]>;
}

/** [global]: where it listens; default import and export policies accept everything. */
function globalToml(o: { asn: number; routerId: string; port: number; address: string }, exportPolicies: string[] = []): string {
  const list = exportPolicies.length ? `  export-policy-list = [${exportPolicies.map((p) => `"${p}"`).join(', ')}]\n` : '';
  return `[global.config]
  as = ${o.asn}
  router-id = "${o.routerId}"
  port = ${o.port}
  local-address-list = ["${o.address}"]
[global.apply-policy.config]
${list}  default-import-policy = "accept-route"
  default-export-policy = "accept-route"
`;
}

/** gobgpd.toml for one neighbor (the interop tests). */
export function configToml(opts: DaemonOptions): string {
  const { peer } = opts;
  const keepalive = Math.max(1, Math.floor(peer.holdTime / 3));
  const nh = nextHops(opts.address);
  const family = (name: string) => `
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "${name}"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true`;
  // eBGP rewrites the next hop to the session's local address (127/8); the export policy
  // replaces it per family with a benchmarking-range address.
  const setNextHop = (name: string, afi: string, addr: string) => `
  [[policy-definitions.statements]]
    name = "${name}"
    [policy-definitions.statements.conditions.bgp-conditions]
      afi-safi-in-list = ["${afi}"]
    [policy-definitions.statements.actions]
      route-disposition = "accept-route"
    [policy-definitions.statements.actions.bgp-actions]
      set-next-hop = "${addr}"`;
  return `${globalToml(opts, ['next-hop-out'])}
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${peer.address}"
    peer-as = ${peer.asn}
  [neighbors.timers.config]
    hold-time = ${peer.holdTime}
    keepalive-interval = ${keepalive}
    connect-retry = 5
  [neighbors.transport.config]
    local-address = "${opts.address}"
    passive-mode = ${peer.passive}
    remote-port = ${peer.port}
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
${family('ipv4-unicast')}
${family('ipv6-unicast')}

[[policy-definitions]]
  name = "next-hop-out"
${setNextHop('ipv4', 'ipv4-unicast', nh.ipv4)}
${setNextHop('ipv6', 'ipv6-unicast', nh.ipv6)}
`;
}

/** gobgpd.toml for N passive IPv4 peers (the bench). */
export function passiveConfig(o: PassivePeers): string {
  const neighbors = o.peers
    .map(
      (p) => `
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${p.address}"
    peer-as = ${p.asn}
  [neighbors.transport.config]
    local-address = "${o.address}"
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"`,
    )
    .join('\n');
  return `${globalToml(o)}${neighbors}
`;
}

/** gobgpd in its run directory, its gRPC API on the instance's address at a free port. */
export class GoBgpProcess extends DaemonProcess {
  /** The gRPC API's port, found free when it starts. */
  private apiPort = 0;

  constructor(at: Placement) {
    super('gobgpd', at, join(at.runDir, 'gobgpd.log'));
  }

  /** Starts gobgpd with `config`; resolves once it listens, its API answers and `ready` holds. */
  async run(config: string, ready: () => Promise<boolean> = async () => true): Promise<void> {
    const conf = this.file('gobgpd.toml', config);
    const { address, port } = this.at;
    this.apiPort = await freePort(address);
    const args = ['-f', conf, '--api-hosts', `${address}:${this.apiPort}`, '--pprof-disable', '--log-level', 'info'];
    await this.launch('gobgpd', args, {
      what: `gobgpd on ${address}:${port}`,
      until: async () => this.listening() && (await runCli('gobgp', this.apiArgs(['global']), 2_000)).code === 0 && (await ready()),
      timeoutMs: 20_000,
    });
  }

  private apiArgs(args: string[]): string[] {
    if (!this.apiPort) throw new Error('gobgpd: not started');
    return ['-u', this.at.address, '-p', String(this.apiPort), ...args];
  }

  /** Runs the `gobgp` CLI against this instance's API. */
  cli(args: string[], timeoutMs = 10_000): Promise<string> {
    return runCliOk('gobgp', this.apiArgs(args), timeoutMs);
  }
}

/**
 * GoBGP as the bench's router under test. gobgpd listens before it has added the neighbors from
 * its file: the start waits until the API lists all of them, or an early OPEN would meet an
 * unknown peer. (Never polled during a run: GoBGP's neighbor query stalls its route processing.)
 */
export async function startPassive(runDir: string, o: PassivePeers): Promise<DaemonProcess> {
  const p = new GoBgpProcess({ runDir, address: o.address, port: o.port });
  await p.run(passiveConfig(o), async () => (JSON.parse(await p.cli(['neighbor', '-j'], 2_000)) as unknown[]).length === o.peers.length);
  return p;
}

export function create(opts: DaemonOptions): GoBgpDaemon {
  return new GoBgp(opts);
}

class GoBgp extends GoBgpProcess implements GoBgpDaemon {
  readonly name = 'gobgp' as const;

  constructor(private readonly opts: DaemonOptions) {
    super(opts);
  }

  start(): Promise<void> {
    return this.run(configToml(this.opts));
  }

  private async adjIn(family: 'ipv4' | 'ipv6'): Promise<string> {
    const out = await this.cli(['-j', 'neighbor', this.opts.peer.address, 'adj-in', '-a', family]);
    return out.trim() || '{}';
  }

  async receivedRoutes(family: 'ipv4' | 'ipv6' = 'ipv4'): Promise<RouteView[]> {
    return parseRibJson(await this.adjIn(family));
  }

  async receivedAttributes(family: 'ipv4' | 'ipv6' = 'ipv4'): Promise<GoBgpPathAttributes[]> {
    return parseRibAttributes(await this.adjIn(family));
  }

  async session(): Promise<SessionView> {
    return parseNeighborJson(await this.cli(['neighbor', '-j']), this.opts.peer.address, this.readLog());
  }

  async keepalivesReceived(): Promise<number> {
    return keepalivesFromNeighborJson(await this.cli(['neighbor', '-j']), this.opts.peer.address);
  }

  async shutdownPeer(text: string): Promise<void> {
    // GoBGP drops the request silently when the session is not up.
    const up = async () => (await this.session()).established;
    await waitFor('gobgp session Established before shutdown', up, 5_000, 200);
    // `disable` in 3.10's CLI does not pass --reason on; the deprecated `shutdown` does (it
    // sends Cease/Administrative Shutdown once; GoBGP reconnects after its idle hold time).
    await this.cli(['neighbor', this.opts.peer.address, 'shutdown', '--reason', text]);
    await waitFor('gobgp session to go down after shutdown', async () => !(await up()), 5_000, 100);
  }
}
