// Interop driver for GoBGP 3.10 (`gobgpd` + `gobgp` CLI over its gRPC API).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../helpers/env.js';
import { capabilityNameByCode, notInstalled, type CapabilityName, type Daemon, type DaemonOptions, type SessionView } from '../daemon.js';
import { extendedCommunityFromValue, normaliseRoute, type RouteView } from '../routeView.js';
import {
  GroupDriver,
  hasBinary,
  isListening,
  runCli,
  runCliOk,
  startDetached,
  type Started,
  waitFor,
  waitForDaemon,
} from './proc.js';

export function unavailable(): string | null {
  return hasBinary('gobgpd') && hasBinary('gobgp') ? null : notInstalled('gobgpd');
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

/** One path of `gobgp -j ... adj-in`: its prefix and its attributes by type code, as GoBGP's JSON has them. */
export interface GoBgpPathAttributes {
  prefix: string;
  attributes: Map<number, Record<string, unknown>>;
}

export function create(opts: DaemonOptions): GoBgpDaemon {
  return new GoBgp(opts);
}

/** Next hops GoBGP puts on the routes it originates: GoBGP and FRR both reject 127/8 ones. */
export function nextHops(address: string): { ipv4: string; ipv6: string } {
  const [, , b, c] = address.split('.');
  return { ipv4: `198.18.${b}.${c}`, ipv6: `2001:db8::${b}:${c}` };
}

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
  return `[global.config]
  as = ${opts.asn}
  router-id = "${opts.routerId}"
  port = ${opts.port}
  local-address-list = ["${opts.address}"]
[global.apply-policy.config]
  export-policy-list = ["next-hop-out"]
  default-import-policy = "accept-route"
  default-export-policy = "accept-route"

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

const SESSION_STATES = ['unknown', 'idle', 'connect', 'active', 'opensent', 'openconfirm', 'established'];

class GoBgp extends GroupDriver implements GoBgpDaemon {
  protected readonly label = 'gobgpd';
  readonly name = 'gobgp' as const;
  private readonly logFile: string;
  /** The gRPC API's port on the instance's address, found free when it starts. */
  private apiPort = 0;

  constructor(private readonly opts: DaemonOptions) {
    super();
    this.logFile = join(opts.runDir, 'gobgpd.log');
  }


  /** Runs the `gobgp` CLI against this instance's API. */
  cli(args: string[], timeoutMs = 10_000): Promise<string> {
    if (!this.apiPort) throw new Error('gobgpd: not started');
    return runCliOk('gobgp', ['-u', this.opts.address, '-p', String(this.apiPort), ...args], timeoutMs);
  }

  async start(): Promise<void> {
    const { runDir, address, port } = this.opts;
    mkdirSync(runDir, { recursive: true });
    const conf = join(runDir, 'gobgpd.toml');
    writeFileSync(conf, configToml(this.opts));
    this.apiPort = await freePort(address);
    const proc = startDetached(
      'gobgpd',
      ['-f', conf, '--api-hosts', `${address}:${this.apiPort}`, '--pprof-disable', '--log-level', 'info'],
      { cwd: runDir, logFile: this.logFile },
    );
    this.proc = proc;
    const probe = ['-u', address, '-p', String(this.apiPort), 'global'];
    try {
      await waitForDaemon(
        proc,
        this.logFile,
        `gobgpd on ${address}:${port}`,
        async () => isListening(address, port) && (await runCli('gobgp', probe, 2_000)).code === 0,
        15_000,
      );
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async receivedRoutes(family: 'ipv4' | 'ipv6' = 'ipv4'): Promise<RouteView[]> {
    const out = await this.cli(['-j', 'neighbor', this.opts.peer.address, 'adj-in', '-a', family]);
    return parseRibJson(out.trim() || '{}');
  }

  async receivedAttributes(family: 'ipv4' | 'ipv6' = 'ipv4'): Promise<GoBgpPathAttributes[]> {
    const out = await this.cli(['-j', 'neighbor', this.opts.peer.address, 'adj-in', '-a', family]);
    return parseRibAttributes(out.trim() || '{}');
  }

  async session(): Promise<SessionView> {
    const peers = JSON.parse(await this.cli(['neighbor', '-j'])) as GoBgpPeer[];
    const addr = this.opts.peer.address;
    const p = peers.find((x) => (x.conf?.neighbor_address ?? x.state?.neighbor_address) === addr);
    if (!p) throw new Error(`gobgp: neighbor ${addr} not configured`);
    const raw = p.state?.session_state ?? 0;
    const state = typeof raw === 'number' ? (SESSION_STATES[raw] ?? String(raw)) : String(raw).toLowerCase();
    const established = state === 'established';
    const caps = (list: GoBgpCap[] | undefined) =>
      list && list.length > 0 ? list.map(capabilityName) : established ? [] : null;
    return {
      established,
      state,
      localCapabilities: caps(p.state?.local_cap),
      remoteCapabilities: caps(p.state?.remote_cap),
      holdTime: established ? (p.timers?.state?.negotiated_hold_time ?? null) : null,
      lastError: lastErrorFromLog(this.readLog(), this.opts.peer.address),
    };
  }

  async keepalivesReceived(): Promise<number> {
    const peers = JSON.parse(await this.cli(['neighbor', '-j'])) as GoBgpPeer[];
    const p = peers.find((x) => (x.conf?.neighbor_address ?? x.state?.neighbor_address) === this.opts.peer.address);
    return Number(p?.state?.messages?.received?.keepalive ?? 0);
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



  private readLog(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}

interface GoBgpCap {
  type_url?: string;
  value?: string;
}

interface GoBgpPeer {
  conf?: { neighbor_address?: string };
  state?: {
    neighbor_address?: string;
    session_state?: number | string;
    local_cap?: GoBgpCap[];
    remote_cap?: GoBgpCap[];
    /** Message counters (uint64, which the JSON may carry as strings). */
    messages?: { received?: { keepalive?: number | string } };
  };
  timers?: { state?: { negotiated_hold_time?: number } };
}

// Capability codes for the ones GoBGP 3.10 reports as UnknownCapability (e.g. 6, extended message).

const CAPABILITY_TYPES: Record<string, CapabilityName> = {
  RouteRefreshCapability: 'route-refresh',
  RouteRefreshCiscoCapability: 'route-refresh-cisco',
  EnhancedRouteRefreshCapability: 'enhanced-route-refresh',
  FourOctetASNCapability: 'asn4',
  FourOctetASNumberCapability: 'asn4',
  GracefulRestartCapability: 'graceful-restart',
  LongLivedGracefulRestartCapability: 'llgr',
  AddPathCapability: 'add-path',
  ExtendedNexthopCapability: 'extended-nexthop',
  ExtendedMessageCapability: 'extended-message',
  FqdnCapability: 'fqdn',
  RoleCapability: 'role',
  BGPRoleCapability: 'role',
};

/** Maps one of GoBGP's protobuf Any capabilities (type_url + base64 value) to a name. */
export function capabilityName(cap: GoBgpCap): CapabilityName {
  const type = (cap.type_url ?? '').split('.').pop() ?? '';
  const fields = decodeProtobuf(Buffer.from(cap.value ?? '', 'base64'));
  if (type === 'MultiProtocolCapability') {
    // MultiProtocolCapability { Family family = 1 }, Family { afi = 1; safi = 2 }
    const fam = fields.get(1);
    const f = fam instanceof Buffer ? decodeProtobuf(fam) : new Map();
    return `multiprotocol:${familyName(Number(f.get(1) ?? 0), Number(f.get(2) ?? 0))}`;
  }
  if (type === 'UnknownCapability') {
    const code = Number(fields.get(1) ?? 0);
    return capabilityNameByCode(code);
  }
  const kebab = type.replace(/Capability$/, '').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
  return CAPABILITY_TYPES[type] ?? kebab;
}

function familyName(afi: number, safi: number): string {
  const a = afi === 1 ? 'ipv4' : afi === 2 ? 'ipv6' : `afi${afi}`;
  const s = safi === 1 ? 'unicast' : safi === 2 ? 'multicast' : `safi${safi}`;
  return `${a}-${s}`;
}

/** The first value of each field of a protobuf message (varints as bigint-free numbers). */
function decodeProtobuf(buf: Buffer): Map<number, number | Buffer> {
  const out = new Map<number, number | Buffer>();
  let i = 0;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = buf[i++];
      if (b === undefined) throw new Error('truncated protobuf');
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
  };
  try {
    while (i < buf.length) {
      const key = varint();
      const field = Math.floor(key / 8);
      let value: number | Buffer;
      switch (key & 7) {
        case 0:
          value = varint();
          break;
        case 1:
          value = buf.subarray(i, (i += 8));
          break;
        case 2: {
          const len = varint();
          value = buf.subarray(i, (i += len));
          break;
        }
        case 5:
          value = buf.subarray(i, (i += 4));
          break;
        default:
          return out;
      }
      if (!out.has(field)) out.set(field, value);
    }
  } catch {
    // keep what was decoded
  }
  return out;
}

interface LogLine {
  msg?: string;
  Key?: string;
  Reason?: string;
  Code?: number;
  Subcode?: number;
  'Communicated-Reason'?: string;
}

const NOTIFICATION_CODES: Record<number, string> = {
  1: 'message header error',
  2: 'open message error',
  3: 'update message error',
  4: 'hold timer expired',
  5: 'fsm error',
  6: 'cease',
  7: 'route refresh message error',
};

const CEASE_SUBCODES: Record<number, string> = {
  1: 'maximum number of prefixes reached',
  2: 'administrative shutdown',
  3: 'peer de-configured',
  4: 'administrative reset',
  5: 'connection rejected',
  6: 'other configuration change',
  7: 'connection collision resolution',
  8: 'out of resources',
  9: 'hard reset',
  10: 'bfd down',
};

function describeNotification(dir: string, e: LogLine): string {
  const code = e.Code ?? 0;
  const sub = e.Subcode ?? 0;
  const name = NOTIFICATION_CODES[code] ?? 'unknown';
  const subName = code === 6 && CEASE_SUBCODES[sub] ? `/${CEASE_SUBCODES[sub]}` : '';
  const comm = e['Communicated-Reason'];
  const text = comm ? `, shutdown communication: "${comm}"` : '';
  return `notification ${dir}: ${name}${subName} (${code}/${sub})${text}`;
}

/**
 * GoBGP 3.10's API has no last-error field, so this reads gobgpd's JSON log. Everything logged
 * for the neighbor between one "Peer Up" and the next down (hold timer expiry, NOTIFICATIONs
 * sent or received with their shutdown communication, the "Peer Down" reason) is joined; the
 * separate lines matter because with graceful restart negotiated the "Peer Down" reason is just
 * "graceful-restart", whatever the cause.
 */
export function lastErrorFromLog(log: string, neighbor: string): string {
  let lastError = '';
  let episode: string[] = [];
  const add = (part: string) => {
    if (!episode.includes(part)) episode.push(part);
    lastError = episode.join('; ');
  };
  for (const line of log.split('\n')) {
    if (!line.startsWith('{') || !line.includes(neighbor)) continue;
    let e: LogLine;
    try {
      e = JSON.parse(line) as LogLine;
    } catch {
      continue;
    }
    if (e.Key !== neighbor) continue;
    switch (e.msg) {
      case 'Peer Up':
        episode = [];
        break;
      case 'hold timer expired':
        add('hold timer expired');
        break;
      case 'received notification':
        add(describeNotification('received', e));
        break;
      case 'sent notification':
        add(describeNotification('sent', e));
        break;
      case 'Peer Down':
        add(`peer down: ${e.Reason ?? 'unknown'}`);
        episode = [];
        break;
    }
  }
  return lastError;
}

interface GoBgpAttr {
  type: number;
  value?: unknown;
  metric?: number;
  nexthop?: string;
  as_paths?: Array<{ segment_type?: number; asns?: number[] }>;
  communities?: number[];
}

/**
 * Parses `gobgp -j global rib` / `neighbor ADDR adj-in`: prefix -> paths, each with `attrs`
 * keyed by attribute type (AS_PATH segments, NEXT_HOP or MP_REACH_NLRI `nexthop`, MED `metric`, LOCAL_PREF `value`,
 * communities as u32, extended ones as {type, subtype, value: "asn:val"}, large ones as
 * {ASN, LocalData1, LocalData2}).
 */
export function parseRibJson(json: string): RouteView[] {
  const table = JSON.parse(json) as Record<string, Array<{ nlri?: { prefix?: string }; attrs?: GoBgpAttr[] }>>;
  const routes: RouteView[] = [];
  for (const [prefix, paths] of Object.entries(table)) {
    for (const p of paths) {
      const r: RouteView = { prefix: p.nlri?.prefix ?? prefix, asPath: [], nextHop: '', med: null, localPref: null, communities: [], largeCommunities: [], extendedCommunities: [] };
      for (const a of p.attrs ?? []) {
        switch (a.type) {
          case 2:
            r.asPath = (a.as_paths ?? []).flatMap((seg) => seg.asns ?? []);
            break;
          case 3:
            r.nextHop = a.nexthop ?? '';
            break;
          case 14:
            // MP_REACH_NLRI (IPv6 routes): its global next hop, also as `nexthop`.
            if (!r.nextHop) r.nextHop = a.nexthop ?? '';
            break;
          case 4:
            r.med = a.metric ?? 0;
            break;
          case 5:
            r.localPref = Number(a.value);
            break;
          case 8:
            r.communities = (a.communities ?? []).map((c) => `${c >>> 16}:${c & 0xffff}`);
            break;
          case 16:
            r.extendedCommunities = ((a.value ?? []) as Array<{ type?: number; subtype?: number; value?: string | number }>).map((e) =>
              e.subtype === 2 && typeof e.value === 'string' ? `rt:${e.value}` : typeof e.value === 'number' ? extendedCommunityFromValue(e.value) : JSON.stringify(e),
            );
            break;
          case 32:
            r.largeCommunities = ((a.value ?? []) as Array<Record<string, number>>).map(
              (l) => `${l.ASN ?? l.asn}:${l.LocalData1 ?? l.local_data1}:${l.LocalData2 ?? l.local_data2}`,
            );
            break;
        }
      }
      routes.push(normaliseRoute(r));
    }
  }
  return routes;
}

/** `gobgp -j global rib` / `neighbor ADDR adj-in`: every path with its attributes by type code. */
export function parseRibAttributes(json: string): GoBgpPathAttributes[] {
  const table = JSON.parse(json) as Record<string, Array<{ nlri?: { prefix?: string }; attrs?: Array<Record<string, unknown> & { type: number }> }>>;
  const out: GoBgpPathAttributes[] = [];
  for (const [prefix, paths] of Object.entries(table)) {
    for (const p of paths) out.push({ prefix: p.nlri?.prefix ?? prefix, attributes: new Map((p.attrs ?? []).map((a) => [a.type, a])) });
  }
  return out;
}
