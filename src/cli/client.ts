// The CLI over the management API: `ribstorm neighbors`, `neighbor ADDR`, `rib PREFIX`,
// `watch [filters]`, `announce`/`withdraw`, `reload`. Aligned tables as FRR prints them by default, `-j` for the API's JSON;
// `--api ADDR:PORT` reaches another instance.

import WebSocket from 'ws';
import { ConfigError, DEFAULT_API_LISTEN, parseHostPort } from '../config/schema.js';
import { parseFlags } from './flags.js';

export const CLIENT_USAGE = `usage: ribstorm neighbors [-j] [--api ADDR:PORT]
       ribstorm neighbor ADDRESS [-j] [--api ADDR:PORT]
       ribstorm rib PREFIX [--match exact|longest|longer] [--peer ADDR] [-j] [--api ADDR:PORT]
       ribstorm watch [--peer ADDR] [--prefix P] [--path ASNS] [--type T] [--snapshot] [-j] [--api ADDR:PORT]
       ribstorm announce PREFIX... [--next-hop ADDR] [--as-path "ASN ASN"] [--origin igp|egp|incomplete]
                [--med N] [--local-pref N] [--community C]... [--large-community C]... [--token T]
       ribstorm withdraw PREFIX... [--token T]
       ribstorm reload [--token T] [-j] [--api ADDR:PORT]   read the config file again, apply what changed
(writes need the API's token: --token or RIBSTORM_API_TOKEN)
(the API of a running \`ribstorm run\`, by default at ${DEFAULT_API_LISTEN.address}:${DEFAULT_API_LISTEN.port})`;

type Out = (line: string) => void;

/** The API's `host:port` from --api (bracketed IPv6), or the default. */
export function apiBase(flag: unknown): string {
  const { address, port } = parseHostPort(typeof flag === 'string' ? flag : `${DEFAULT_API_LISTEN.address}:${DEFAULT_API_LISTEN.port}`, '--api', DEFAULT_API_LISTEN.port);
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

async function getJson(api: string, path: string, post?: { body: unknown; token?: string }): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(
      `http://${api}${path}`,
      post && { method: 'POST', body: JSON.stringify(post.body), headers: { 'content-type': 'application/json', ...(post.token ? { authorization: `Bearer ${post.token}` } : {}) } },
    );
  } catch (e) {
    throw new Error(`cannot reach the API at ${api} (${((e as Error).cause as Error)?.message ?? (e as Error).message}); is \`ribstorm run\` running there? (--api ADDR:PORT)`);
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error((body as { error?: string } | null)?.error ?? `HTTP ${res.status}`);
  return body;
}

/** Columns padded to their widest cell; numbers right-aligned. */
export function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (/^[\d.]+$/.test(c) && i > 0 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd());
}

interface PeerRow {
  remoteAs: number;
  state: string;
  adminState: string;
  msgRcvd: number;
  msgSent: number;
  outq: number;
  peerUptime: string;
  pfxRcd: number;
  pfxSnt: number;
  description?: string;
}

function neighborsTable(s: { routerId: string; as: number; ribCount: number; ribMemory: number; peerCount: number; peers: Record<string, PeerRow> }, out: Out): void {
  out(`BGP router identifier ${s.routerId}, local AS number ${s.as}`);
  out(`RIB entries ${s.ribCount}, using ${(s.ribMemory / 1048576).toFixed(1)} MiB of memory`);
  out(`Peers ${s.peerCount}`);
  out('');
  const rows = [['Neighbor', 'AS', 'MsgRcvd', 'MsgSent', 'OutQ', 'Up/Down', 'State/PfxRcd', 'PfxSnt', 'Desc']];
  for (const [addr, p] of Object.entries(s.peers)) {
    const state = p.state === 'Established' ? String(p.pfxRcd) : p.adminState === 'down' ? `${p.state} (Admin)` : p.state;
    rows.push([addr, String(p.remoteAs), String(p.msgRcvd), String(p.msgSent), String(p.outq), p.peerUptime, state, String(p.pfxSnt), p.description ?? '']);
  }
  for (const l of table(rows)) out(l);
}

function neighborText(d: Record<string, unknown>, out: Out): void {
  const flat = (v: unknown): string => (Array.isArray(v) ? v.join(', ') : v && typeof v === 'object' ? JSON.stringify(v) : String(v));
  for (const [k, v] of Object.entries(d)) {
    if (k === 'transitions' && Array.isArray(v)) {
      out('transitions:');
      for (const t of v as { at: string; from: string; to: string; event: string }[]) out(`  ${t.at}  ${t.from} -> ${t.to}  (${t.event})`);
    } else if (v !== undefined) out(`${k}: ${flat(v)}`);
  }
}

interface RouteRowText {
  prefix: string;
  best: boolean;
  stale: boolean;
  pathId: number;
  nextHop?: string;
  med?: number;
  localPref?: number;
  path: string;
  origin?: string;
  fromPeer: string;
  reason?: string;
}

function ribTable(r: { routes: { prefix: string; paths: RouteRowText[] }[]; truncated?: boolean }, out: Out): void {
  if (r.routes.length === 0) {
    out('% Network not in table');
    return;
  }
  const rows = [['', 'Network', 'Next Hop', 'Metric', 'LocPrf', 'Path', 'From', 'Why not best']];
  for (const x of r.routes) {
    for (const p of x.paths) {
      const origin = p.origin === 'IGP' ? 'i' : p.origin === 'EGP' ? 'e' : '?';
      rows.push([`${p.stale ? 'S' : ' '}*${p.best ? '>' : ' '}`, p.pathId ? `${p.prefix} id ${p.pathId}` : p.prefix, p.nextHop ?? '', p.med === undefined ? '' : String(p.med), p.localPref === undefined ? '' : String(p.localPref), `${p.path} ${origin}`.trim(), p.fromPeer, p.reason ?? '']);
    }
  }
  for (const l of table(rows)) out(l);
  if (r.truncated) out('(more specifics cut off: narrow the prefix)');
}

export async function client(cmd: string, argv: string[], out: Out = (l) => process.stdout.write(l + '\n')): Promise<number> {
  const args = argv.map((a) => (a === '-j' ? '--json' : a));
  const { flags, rest } = parseFlags(args, {
    api: { value: true },
    json: { value: false },
    match: { value: true },
    peer: { value: true },
    prefix: { value: true },
    path: { value: true },
    type: { value: true },
    snapshot: { value: false },
    'next-hop': { value: true },
    'as-path': { value: true },
    origin: { value: true },
    med: { value: true },
    'local-pref': { value: true },
    community: { value: true, repeat: true },
    'large-community': { value: true, repeat: true },
    token: { value: true },
  });
  const api = apiBase(flags.api);
  const asJson = flags.json === true;
  const print = (v: unknown) => out(JSON.stringify(v, null, 2));
  const only = (allowed: string[]) => {
    const bad = Object.keys(flags).find((k) => !['api', 'json', ...allowed].includes(k));
    if (bad) throw new ConfigError(`--${bad}`, `not an option of ribstorm ${cmd}`);
  };
  switch (cmd) {
    case 'neighbors': {
      only([]);
      if (rest.length) throw new ConfigError(rest[0], 'no argument (ribstorm neighbor ADDRESS for one)');
      const s = await getJson(api, '/neighbors');
      if (asJson) print(s);
      else neighborsTable(s as Parameters<typeof neighborsTable>[0], out);
      return 0;
    }
    case 'neighbor': {
      only([]);
      if (rest.length !== 1) throw new ConfigError('ADDRESS', 'one neighbor address');
      const d = await getJson(api, `/neighbors/${encodeURIComponent(rest[0])}`);
      if (asJson) print(d);
      else neighborText(d as Record<string, unknown>, out);
      return 0;
    }
    case 'rib': {
      only(['match', 'peer']);
      if (rest.length !== 1) throw new ConfigError('PREFIX', 'one prefix or address (e.g. 192.0.2.0/24)');
      const q = new URLSearchParams({ prefix: rest[0], match: (flags.match as string) ?? (rest[0].includes('/') ? 'exact' : 'longest') });
      if (flags.peer) q.set('peer', flags.peer as string);
      const r = await getJson(api, `/rib?${q}`);
      if (asJson) print(r);
      else ribTable(r as Parameters<typeof ribTable>[0], out);
      return 0;
    }
    case 'watch':
      only(['peer', 'prefix', 'path', 'type', 'snapshot']);
      return watch(api, flags, asJson, out);
    case 'announce':
    case 'withdraw': {
      only(cmd === 'announce' ? ['next-hop', 'as-path', 'origin', 'med', 'local-pref', 'community', 'large-community', 'token'] : ['token']);
      if (rest.length === 0) throw new ConfigError('PREFIX', 'at least one prefix');
      const token = (flags.token as string | undefined) ?? process.env.RIBSTORM_API_TOKEN;
      const r = await getJson(api, cmd === 'announce' ? '/routes' : '/routes/withdraw', { body: cmd === 'announce' ? { routes: rest.map((p) => routeOf(p, flags)) } : { prefixes: rest }, token });
      if (asJson) print(r);
      else out(cmd === 'announce' ? `announced ${(r as { announced: number }).announced}` : `withdrew ${(r as { withdrawn: number }).withdrawn}`);
      return 0;
    }
    case 'reload': {
      only(['token']);
      if (rest.length) throw new ConfigError(rest[0], 'no argument (the running speaker reads its own --config FILE)');
      const token = (flags.token as string | undefined) ?? process.env.RIBSTORM_API_TOKEN;
      const r = await getJson(api, '/config/reload', { body: {}, token });
      if (asJson) print(r);
      else reloadTable(r as Record<string, string[]>, out);
      return 0;
    }
    default:
      throw new ConfigError(cmd, 'a client command');
  }
}

const RELOAD_ROWS: Array<[key: string, label: string]> = [
  ['added', 'added'],
  ['removed', 'removed'],
  ['reset', 'reset'],
  ['softReset', 'soft reset'],
  ['inPlace', 'changed in place'],
  ['unchanged', 'unchanged'],
];

/** What a reload did: one row per outcome, the neighbors' addresses beside it. */
function reloadTable(r: Record<string, string[]>, out: Out): void {
  for (const l of table(RELOAD_ROWS.map(([k, label]) => [label, String(r[k]?.length ?? 0), (r[k] ?? []).join(' ')]))) out(l);
}

/** One route of `ribstorm announce`, in the API's field names (checked there). */
function routeOf(prefix: string, f: Record<string, unknown>): Record<string, unknown> {
  const r: Record<string, unknown> = { prefix };
  const num = (k: string) => {
    const v = f[k] as string;
    if (!/^\d+$/.test(v)) throw new ConfigError(`--${k}`, 'a number', v);
    return Number(v);
  };
  if (f['next-hop']) r['next-hop'] = f['next-hop'];
  if (f['as-path'] !== undefined) r['as-path'] = String(f['as-path']).trim().split(/[\s,]+/).filter(Boolean).map((a) => (/^\d+$/.test(a) ? Number(a) : a));
  if (f.origin) r.origin = f.origin;
  if (f.med !== undefined) r.med = num('med');
  if (f['local-pref'] !== undefined) r['local-pref'] = num('local-pref');
  if (f.community) r.communities = f.community;
  if (f['large-community']) r['large-communities'] = f['large-community'];
  return r;
}

/** The stream, one line per event until interrupted (or the server closes). */
function watch(api: string, flags: Record<string, unknown>, asJson: boolean, out: Out): Promise<number> {
  const data: Record<string, unknown> = {};
  for (const k of ['peer', 'prefix', 'path', 'type'] as const) if (typeof flags[k] === 'string') data[k] = flags[k];
  if (flags.snapshot) data.snapshot = true;
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://${api}/stream`);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'ris_subscribe', data })));
    ws.on('message', (m) => {
      const msg = JSON.parse(m.toString()) as { type: string; data: Record<string, unknown> };
      if (asJson) out(JSON.stringify(msg));
      else if (msg.type === 'ris_error') out(`error: ${msg.data.message}`);
      else if (msg.type === 'ris_message') out(eventLine(msg.data));
    });
    ws.on('error', (e) => {
      process.stderr.write(`ribstorm watch: cannot reach the API at ${api} (${e.message})\n`);
      resolve(1);
    });
    ws.on('close', () => resolve(0));
    process.once('SIGINT', () => ws.close());
  });
}

export function eventLine(d: Record<string, unknown>): string {
  const t = new Date(Number(d.timestamp) * 1000).toISOString().slice(11, 23);
  const who = `${d.peer ?? ''} AS${d.peer_asn ?? ''}`;
  switch (d.type) {
    case 'UPDATE': {
      const ann = (d.announcements as { next_hop: string; prefixes: string[] }[] | undefined) ?? [];
      const parts = ann.map((a) => `+${a.prefixes.join(' +')} via ${a.next_hop}`);
      const wd = (d.withdrawals as string[] | undefined) ?? [];
      if (wd.length) parts.push(`-${wd.join(' -')}`);
      const path = ((d.path as (number | number[])[] | undefined) ?? []).map((x) => (Array.isArray(x) ? `{${x.join(',')}}` : x)).join(' ');
      return `${t} ${who} UPDATE ${parts.join(' ')}${path ? ` path ${path}` : ''}`;
    }
    case 'END_OF_RIB':
      return `${t} END_OF_RIB ${d.prefixes} paths in the snapshot`;
    case 'RIS_PEER_STATE':
      return `${t} ${who} ${d.state}`;
    case 'NOTIFICATION': {
      const n = d.notification as { code: number; subcode: number };
      return `${t} ${who} NOTIFICATION ${d.direction} ${n.code}/${n.subcode}`;
    }
    default:
      return `${t} ${who} ${d.type}`;
  }
}
