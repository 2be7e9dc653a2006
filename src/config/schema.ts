// Configuration: the shape operators know from GoBGP's TOML (a global block and a list of
// neighbors), kebab-case keys, validated field by field. Nothing unknown is accepted.

import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { EVENT_BACKLOG_BYTES, EVENT_DEFER_MS } from '../rib/eventBounds.js';
import { ATTRIBUTE_SETS_MAX, DEFAULT_SIZING, PATHS_MAX, type RibSizing } from '../rib/memory.js';
import { MIN_RING_BYTES } from '../io/ring.js';
import { parseCommunity, parseLargeCommunity, parsePrefixMatch, type Policy, type PolicyRule } from '../policy/policy.js';
import { ConfigError, Fields, parseHostPort, type ListenAddress, type Obj } from './fields.js';
import { validateBmp, type BmpConfig } from './bmp.js';
import { validateNats, type NatsConfig } from './nats.js';
import { checkRibMode } from './ribMode.js';

export { ConfigError, parseHostPort, type ListenAddress } from './fields.js';
export type { BmpConfig } from './bmp.js';

export type FamilyName = 'ipv4-unicast' | 'ipv6-unicast';
export const FAMILIES: readonly FamilyName[] = ['ipv4-unicast', 'ipv6-unicast'];

export type MaxPrefixAction = 'warn' | 'block' | 'restart' | 'disable';
export type AddPathSetting = 'off' | 'receive' | 'send' | 'both';
export type RoleName = 'provider' | 'customer' | 'peer' | 'rs-server' | 'rs-client';

export interface GlobalConfig {
  asn: number;
  routerId: string;
  listen: ListenAddress[];
}

export interface MaxPrefixConfig {
  limit: number;
  action: MaxPrefixAction;
  /** Seconds before a session torn down by `restart` comes back. */
  restartAfter: number;
  /** Log a warning once this share of the limit is reached. */
  warnPct: number;
}

export interface NeighborConfig {
  address: string;
  remoteAs: number;
  localAs?: number;
  localAddress?: string;
  port: number;
  passive: boolean;
  description: string;
  /** Seconds; 0 disables keepalives and the hold timer (RFC 4271 §4.2). */
  holdTime: number;
  /** Seconds; default a third of the negotiated hold time. */
  keepalive?: number;
  connectRetry: number;
  /** First idle-hold delay after a failure; doubles per failure up to idleHoldMax. */
  idleHoldTime: number;
  idleHoldMax: number;
  /** RFC 9687; default max(480, 2 x hold time). */
  sendHoldTime?: number;
  families: FamilyName[];
  maxPrefix?: MaxPrefixConfig;
  addPath: AddPathSetting;
  gracefulRestart: { enabled: boolean; restartTime: number };
  extendedMessage: boolean;
  routeRefresh: boolean;
  role?: RoleName;
  /** RFC 9234 strict mode: a peer that sends no role is refused. */
  roleStrict: boolean;
  /** Unset: RFC 8212 (eBGP: nothing in or out; iBGP: accept). */
  importPolicy?: Policy;
  exportPolicy?: Policy;
  routeReflectorClient: boolean;
  routeServerClient: boolean;
  /** IPv6 next hop we advertise over this session (default: our session address, IPv4-mapped). */
  nextHop6?: string;
  /** How often our own AS may appear in AS_PATH of routes from this neighbor (default 0). */
  allowasIn: number;
  /**
   * Announcements whose AS_PATH is longer are filtered (FRR's `bgp maxas-limit`), counted as
   * the decision process counts it (RFC 4271 §9.1.2.2: an AS_SET counts one); absent: no limit.
   */
  maxAsPathLength?: number;
  /**
   * Octets of the receive ring of each connection: what this peer may have waiting for the RIB
   * at most. When it is full, reading pauses (TCP pushes back on the peer); absent: 4 MiB.
   */
  receiveBuffer?: number;
  /** MRAI, seconds: at most one round of UPDATEs per interval (0: as soon as decided). */
  advertisementInterval: number;
}

export type PolicyDefault = 'accept' | 'reject';

/**
 * The `[rib]` table: the shared tables' sizing and how the workers decide. Paths and attribute
 * sets need no sizing (their ceilings default to what the machine's memory holds; address
 * space is reserved, memory used as filled); the prefix tables are sized for `prefixes`.
 */
export interface RibConfig extends RibSizing {
  /** Worker threads applying UPDATEs; default: one per core. */
  workers?: number;
  alwaysCompareMed: boolean;
  /**
   * `speaker`: the decision process and the advertisement (a router). `collector`: every
   * peer's Adj-RIB-In only, no best path chosen and nothing advertised (a route collector).
   */
  mode: RibMode;
  /**
   * Route events (the stream, a NATS feed): how long a batch's may wait while the RIB is loaded
   * (0: never), and the received UPDATEs they may keep waiting, MiB (rib/eventLane.ts).
   */
  eventsMaxWaitMs: number;
  eventsBacklogMb: number;
}

export const RIB_MODES = ['speaker', 'collector'] as const;
export type RibMode = (typeof RIB_MODES)[number];

/** The `[api]` table: the management plane's address and its write token. */
export interface ApiConfig {
  /** null: off. */
  listen: ListenAddress | null;
  /** True when the address was chosen, not defaulted: failing to listen there is fatal. */
  explicit: boolean;
  /** Writes need it (RIBSTORM_API_TOKEN sets it too); without one they are refused. */
  token?: string;
}

export const DEFAULT_API_LISTEN: ListenAddress = { address: '127.0.0.1', port: 8179 };
export const DEFAULT_API: ApiConfig = { listen: DEFAULT_API_LISTEN, explicit: false };

/** The `[mrt]` table: periodic MRT table dumps and update logs (RIS `bview` and `updates` files). */
export interface MrtConfig {
  /** Where `bview.YYYYMMDD.HHMM.gz` and `updates.YYYYMMDD.HHMM.gz` files go; must exist and be writable. */
  dir: string;
  /** Seconds between two table dumps, aligned to the epoch (RIS: 28800, every 8 hours); 0: none. */
  tableDumpInterval: number;
  /** Seconds each update log covers, aligned to the epoch (RIS: 300); 0: no update logs. */
  updatesInterval: number;
  /** Of both kinds of file: gzip (.gz, as RIS) or bzip2 (.bz2, as RouteViews). */
  compression: 'gzip' | 'bzip2';
}

export const DEFAULT_TABLE_DUMP_INTERVAL = 8 * 3600;
export const DEFAULT_UPDATES_INTERVAL = 300;

export interface Config {
  global: GlobalConfig;
  rib: RibConfig;
  /** Absent: DEFAULT_API. */
  api?: ApiConfig;
  /** Absent: no periodic dumps. */
  mrt?: MrtConfig;
  /** `[[bmp]]`: the BMP stations to export to (RFC 7854); absent or empty: none. */
  bmp?: BmpConfig[];
  /** Absent: no NATS JetStream feed. */
  nats?: NatsConfig;
  neighbors: NeighborConfig[];
}

/** "ADDR:PORT" (port 8179 when left out) or "off". */
export function parseApiListen(text: string, field: string): ListenAddress | null {
  return text === 'off' ? null : parseHostPort(text, field, DEFAULT_API_LISTEN.port);
}

function validateApi(obj: unknown): ApiConfig {
  if (obj === undefined) return { ...DEFAULT_API };
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new ConfigError('api', 'an [api] table', obj);
  const f = new Fields(obj as Obj, 'api');
  const listen = f.raw('listen');
  if (listen !== undefined && typeof listen !== 'string') throw new ConfigError('api.listen', '"ADDRESS:PORT" or "off"', listen);
  const token = f.raw('token');
  if (token !== undefined && (typeof token !== 'string' || token.length < 8)) throw new ConfigError('api.token', 'a string of at least 8 characters');
  f.done();
  return {
    listen: listen === undefined ? DEFAULT_API_LISTEN : parseApiListen(listen, 'api.listen'),
    explicit: listen !== undefined,
    ...(token ? { token } : {}),
  };
}

export const DEFAULT_RIB: RibConfig = {
  ...DEFAULT_SIZING,
  alwaysCompareMed: false,
  mode: 'speaker',
  eventsMaxWaitMs: EVENT_DEFER_MS,
  eventsBacklogMb: EVENT_BACKLOG_BYTES / (1 << 20),
};

function validateRib(obj: unknown): RibConfig {
  if (obj === undefined) return { ...DEFAULT_RIB };
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new ConfigError('rib', 'a [rib] table', obj);
  const f = new Fields(obj as Obj, 'rib');
  const workers = f.optInt('workers', 1, 256, 'a worker count from 1 to 256');
  const shards = f.int('shards', 1, 4096, DEFAULT_RIB.shards, 'a power of two from 1 to 4096');
  if ((shards & (shards - 1)) !== 0) throw new ConfigError('rib.shards', 'a power of two from 1 to 4096', shards);
  const rib: RibConfig = {
    workers,
    shards,
    prefixes: f.int('prefixes', 1024, 1 << 30, DEFAULT_RIB.prefixes),
    prefixes6: f.int('prefixes6', 1024, 1 << 30, DEFAULT_RIB.prefixes6),
    paths: f.int('paths', 1024, PATHS_MAX, DEFAULT_RIB.paths),
    attributeSets: f.int('attribute-sets', 1024, ATTRIBUTE_SETS_MAX, DEFAULT_RIB.attributeSets),
    attributeBytes: DEFAULT_RIB.attributeBytes,
    attributeIndex: DEFAULT_RIB.attributeIndex,
    alwaysCompareMed: f.bool('always-compare-med', false),
    mode: f.oneOf('mode', RIB_MODES, 'speaker'),
    eventsMaxWaitMs: f.int('events-max-wait-ms', 0, 60_000, DEFAULT_RIB.eventsMaxWaitMs, 'milliseconds from 0 (route events never wait for the RIB) to 60000'),
    eventsBacklogMb: f.int('events-backlog-mb', 1, 4096, DEFAULT_RIB.eventsBacklogMb, 'MiB from 1 to 4096'),
  };
  f.done();
  return rib;
}

const ASN_MAX = 0xffffffff;

function routerId(f: Fields, key: string): string {
  const v = f.raw(key);
  if (typeof v !== 'string' || isIP(v) !== 4 || v === '0.0.0.0') {
    throw new ConfigError(`global.${key}`, 'a non-zero dotted-quad BGP Identifier such as "10.0.0.1"', v);
  }
  return v;
}

function validateGlobal(obj: unknown): GlobalConfig {
  if (!obj || typeof obj !== 'object') throw new ConfigError('global', 'a [global] table with asn and router-id');
  const f = new Fields(obj as Obj, 'global');
  const asn = f.int('asn', 1, ASN_MAX, undefined, 'an AS number from 1 to 4294967295');
  const id = routerId(f, 'router-id');
  const port = f.int('listen-port', 1, 65535, 179);
  const addrs = f.raw('listen-addresses');
  let listen: ListenAddress[];
  if (addrs === undefined) listen = [{ address: '0.0.0.0', port }];
  else if (!Array.isArray(addrs) || addrs.some((a) => typeof a !== 'string' || isIP(a) === 0)) {
    throw new ConfigError('global.listen-addresses', 'a list of IP addresses ([] to accept no connections)', addrs);
  } else listen = (addrs as string[]).map((address) => ({ address, port }));
  f.done();
  return { asn, routerId: id, listen };
}

function list<T>(f: Fields, key: string, expected: string, parse: (x: unknown) => T | null): T[] | undefined {
  const v = f.raw(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError(f.name(key), `a non-empty list of ${expected}`, v);
  return v.map((x) => {
    const r = parse(x);
    if (r === null) throw new ConfigError(f.name(key), `a list of ${expected}`, x);
    return r;
  });
}

const asn = (x: unknown) => (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= ASN_MAX ? x : null);
const str = <T>(p: (s: string) => T | null) => (x: unknown) => (typeof x === 'string' ? p(x) : null);

function validateRule(obj: unknown, path: string, direction: 'import' | 'export'): PolicyRule {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new ConfigError(path, 'a rule table', obj);
  const f = new Fields(obj as Obj, path);
  const rule: PolicyRule = {
    prefixes: list(f, 'prefixes', 'prefixes such as "10.0.0.0/8" or "10.0.0.0/8-24"', str(parsePrefixMatch)),
    communities: list(f, 'communities', 'communities such as "65000:100" or "no-export"', str(parseCommunity)),
    largeCommunities: list(f, 'large-communities', 'large communities such as "65000:1:2"', str(parseLargeCommunity)),
    asPathContains: list(f, 'as-path-contains', 'AS numbers', asn),
    originAs: list(f, 'origin-as', 'AS numbers', asn),
    action: f.oneOf('action', ['accept', 'reject'] as const, 'accept'),
    setLocalPref: f.optInt('set-local-pref', 0, ASN_MAX),
    setMed: f.optInt('set-med', 0, ASN_MAX),
    addCommunities: list(f, 'add-communities', 'communities such as "65000:100"', str(parseCommunity)),
    prepend: f.optInt('prepend', 1, 10, 'a count from 1 to 10 (export only)'),
  };
  if (rule.prepend && direction === 'import') throw new ConfigError(`${path}.prepend`, 'an export rule (prepend adds our own AS)');
  f.done();
  return rule;
}

/**
 * A neighbor's import or export policy: either the shorthand `import-policy = "accept"` or a
 * table `[neighbors.import]` with `default` and `[[neighbors.import.rules]]`.
 */
function validatePolicy(f: Fields, direction: 'import' | 'export', path: string): Policy | undefined {
  const short = f.has(`${direction}-policy`) ? f.oneOf(`${direction}-policy`, ['accept', 'reject'] as const) : (f.raw(`${direction}-policy`), undefined);
  const table = f.table(direction);
  if (short && table) throw new ConfigError(`${path}.${direction}-policy`, `either ${direction}-policy or a [${direction}] table, not both`);
  if (short) return { default: short, rules: [] };
  if (!table) return undefined;
  const dflt = table.oneOf('default', ['accept', 'reject'] as const, 'reject');
  const raw = table.raw('rules') ?? [];
  if (!Array.isArray(raw)) throw new ConfigError(`${path}.${direction}.rules`, 'a list of [[rules]] tables', raw);
  const rules = raw.map((r, i) => validateRule(r, `${path}.${direction}.rules[${i}]`, direction));
  table.done();
  return { default: dflt, rules };
}

/** Validates one neighbor table; `path` names it in errors (e.g. "neighbors[2]"). */
export function validateNeighbor(obj: Obj, path: string): NeighborConfig {
  const f = new Fields(obj, path);
  const address = f.ip('address', true)!;
  const remoteAs = f.int('remote-as', 1, ASN_MAX, undefined, 'an AS number from 1 to 4294967295');
  const localAs = f.optInt('local-as', 1, ASN_MAX, 'an AS number from 1 to 4294967295');
  const localAddress = f.ip('local-address', false);
  const port = f.int('port', 1, 65535, 179);
  const passive = f.bool('passive', false);
  const description = f.str('description', '');
  const holdTime = f.int('hold-time', 0, 65535, 90, '0 or an integer from 3 to 65535 seconds');
  if (holdTime === 1 || holdTime === 2) {
    throw new ConfigError(`${path}.hold-time`, '0 or an integer from 3 to 65535 seconds', holdTime);
  }
  const keepalive = f.optInt('keepalive', 0, 21845, 'seconds, at most a third of hold-time');
  if (keepalive !== undefined && holdTime > 0 && keepalive * 3 > holdTime) {
    throw new ConfigError(`${path}.keepalive`, `at most a third of hold-time (${Math.floor(holdTime / 3)})`, keepalive);
  }
  const connectRetry = f.int('connect-retry', 1, 65535, 120, 'seconds from 1 to 65535');
  const idleHoldTime = f.int('idle-hold-time', 0, 3600, 5, 'seconds from 0 to 3600');
  const idleHoldMax = f.int('idle-hold-max', idleHoldTime, 3600, Math.max(120, idleHoldTime), `seconds from idle-hold-time (${idleHoldTime}) to 3600`);
  const sendHoldTime = f.optInt('send-hold-time', 1, 65535, 'seconds from 1 to 65535');
  const famRaw = f.raw('families');
  let families: FamilyName[] = ['ipv4-unicast', 'ipv6-unicast'];
  if (famRaw !== undefined) {
    if (!Array.isArray(famRaw) || famRaw.length === 0 || famRaw.some((x) => !FAMILIES.includes(x as FamilyName))) {
      throw new ConfigError(`${path}.families`, `a non-empty list of ${FAMILIES.join(', ')}`, famRaw);
    }
    families = [...new Set(famRaw as FamilyName[])];
  }
  let maxPrefix: MaxPrefixConfig | undefined;
  const mp = f.table('max-prefix');
  if (mp) {
    maxPrefix = {
      limit: mp.int('limit', 1, ASN_MAX, undefined, 'a prefix count from 1'),
      action: mp.oneOf('action', ['warn', 'block', 'restart', 'disable'] as const, 'disable'),
      restartAfter: mp.int('restart-after', 1, 86400, 60, 'seconds from 1 to 86400'),
      warnPct: mp.int('warn-pct', 1, 100, 90, 'a percentage from 1 to 100'),
    };
    mp.done();
  }
  const addPath = f.oneOf('add-path', ['off', 'receive', 'send', 'both'] as const, 'off');
  let gracefulRestart = { enabled: true, restartTime: 120 };
  const gr = f.table('graceful-restart');
  if (gr) {
    gracefulRestart = { enabled: gr.bool('enabled', true), restartTime: gr.int('restart-time', 0, 4095, 120, 'seconds from 0 to 4095') };
    gr.done();
  }
  const extendedMessage = f.bool('extended-message', true);
  const routeRefresh = f.bool('route-refresh', true);
  const role = f.has('role')
    ? f.oneOf('role', ['provider', 'customer', 'peer', 'rs-server', 'rs-client'] as const)
    : (f.raw('role'), undefined);
  const roleStrict = f.bool('role-strict', false);
  if (roleStrict && !role) throw new ConfigError(`${path}.role-strict`, 'a role to be set as well');
  const importPolicy = validatePolicy(f, 'import', path);
  const exportPolicy = validatePolicy(f, 'export', path);
  const routeReflectorClient = f.bool('route-reflector-client', false);
  const routeServerClient = f.bool('route-server-client', false);
  const nextHop6 = f.ip('next-hop-v6', false);
  const allowasIn = f.int('allowas-in', 0, 10, 0, 'a count from 0 to 10');
  const maxAsPathLength = f.optInt('max-as-path-length', 1, 4096, 'a length from 1 to 4096');
  const receiveBuffer = f.optInt('receive-buffer', MIN_RING_BYTES, 1 << 30, `octets from ${MIN_RING_BYTES} to ${1 << 30}`);
  const advertisementInterval = f.int('advertisement-interval', 0, 600, 0, 'seconds from 0 to 600');
  if (nextHop6 && isIP(nextHop6) !== 6) throw new ConfigError(`${path}.next-hop-v6`, 'an IPv6 address', nextHop6);
  f.done();
  return {
    address, remoteAs, localAs, localAddress, port, passive, description, holdTime, keepalive,
    connectRetry, idleHoldTime, idleHoldMax, sendHoldTime, families, maxPrefix, addPath,
    gracefulRestart, extendedMessage, routeRefresh, role, roleStrict, importPolicy, exportPolicy,
    routeReflectorClient, routeServerClient, nextHop6, allowasIn, ...(maxAsPathLength !== undefined ? { maxAsPathLength } : {}), ...(receiveBuffer !== undefined ? { receiveBuffer } : {}), advertisementInterval,
  };
}

/** One neighbor per address: inbound connections are matched by the peer's address. */
export function checkDistinctNeighbors(neighbors: NeighborConfig[], path: string): void {
  const seen = new Set<string>();
  neighbors.forEach((n, i) => {
    if (seen.has(n.address)) throw new ConfigError(`${path}[${i}].address`, 'an address not used by another neighbor', n.address);
    seen.add(n.address);
  });
}

function validateMrt(obj: unknown): MrtConfig | undefined {
  if (obj === undefined) return undefined;
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new ConfigError('mrt', 'an [mrt] table', obj);
  const f = new Fields(obj as Obj, 'mrt');
  const dir = f.str('dir');
  if (dir === '') throw new ConfigError('mrt.dir', 'a directory', dir);
  const tableDumpInterval = f.int('table-dump-interval', 0, 7 * 86400, DEFAULT_TABLE_DUMP_INTERVAL, 'seconds from 0 (none) to 604800');
  // Files are named to the minute (RIS): no shorter interval than one.
  const updatesInterval = f.int('updates-interval', 0, 86400, DEFAULT_UPDATES_INTERVAL, 'seconds: 0 (none) or 60 to 86400');
  if (updatesInterval > 0 && updatesInterval < 60) throw new ConfigError('mrt.updates-interval', 'seconds: 0 (none) or 60 to 86400', updatesInterval);
  const compression = f.oneOf('compression', ['gzip', 'bzip2'] as const, 'gzip');
  f.done();
  return { dir, tableDumpInterval, updatesInterval, compression };
}

export function validateConfig(doc: unknown): Config {
  if (!doc || typeof doc !== 'object') throw new ConfigError('config', 'a table');
  const top = new Fields(doc as Obj, '');
  const global = validateGlobal(top.raw('global'));
  const rib = validateRib(top.raw('rib'));
  const api = validateApi(top.raw('api'));
  const mrt = validateMrt(top.raw('mrt'));
  const bmp = validateBmp(top.raw('bmp'));
  const nats = validateNats(top.raw('nats'));
  const list = top.raw('neighbors') ?? [];
  if (!Array.isArray(list)) throw new ConfigError('neighbors', 'a list of [[neighbors]] tables', list);
  const neighbors = list.map((n, i) => {
    if (!n || typeof n !== 'object' || Array.isArray(n)) throw new ConfigError(`neighbors[${i}]`, 'a table', n);
    return validateNeighbor(n as Obj, `neighbors[${i}]`);
  });
  checkDistinctNeighbors(neighbors, 'neighbors');
  top.done();
  const config: Config = { global, rib, api, ...(mrt ? { mrt } : {}), ...(bmp.length ? { bmp } : {}), ...(nats ? { nats } : {}), neighbors };
  checkRibMode(config);
  return config;
}

export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('config', `a readable file (${(e as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = parseToml(text);
  } catch (e) {
    const first = String((e as Error).message).split('\n')[0];
    throw new ConfigError(path, `valid TOML (${first})`);
  }
  return validateConfig(doc);
}
