// What a reload would change: the running configuration against a new one, neighbor by
// neighbor (keyed by address), each changed field sorted by what applying it takes. Settings
// that cannot change under a running speaker (AS, router id, listeners, RIB sizing, the API,
// MRT, BMP, any other section) refuse the whole reload, with the field named. Decides only; the
// speaker applies it (../speaker/reload.ts).

import { ConfigError } from './fields.js';
import { DEFAULT_API, type Config, type NeighborConfig } from './schema.js';

/**
 * What a changed field takes, weakest first:
 * - `in-place`: the neighbor's next use of it (a timer, the next batch, the description);
 * - `max-prefix`: the RIB peer's limit set again and checked against what it holds;
 * - `export`: the Adj-RIB-Out recomputed and sent again (soft reset out);
 * - `import`: the peer's table asked for again (ROUTE-REFRESH) or the session reset;
 * - `session`: what the OPEN or the connection carries: the session reset with Cease / Other
 *   Configuration Change (RFC 4486 subcode 6).
 */
export type ChangeKind = 'in-place' | 'max-prefix' | 'export' | 'import' | 'session';

/** Every neighbor field and what changing it takes: a new field must say (the type checks). */
export const NEIGHBOR_FIELDS: Record<keyof NeighborConfig, ChangeKind> = {
  address: 'session',
  remoteAs: 'session',
  localAs: 'session',
  localAddress: 'session',
  port: 'session',
  passive: 'session',
  description: 'in-place',
  holdTime: 'session',
  keepalive: 'session',
  connectRetry: 'in-place',
  idleHoldTime: 'in-place',
  idleHoldMax: 'in-place',
  sendHoldTime: 'in-place',
  families: 'session',
  maxPrefix: 'max-prefix',
  addPath: 'session',
  gracefulRestart: 'session',
  extendedMessage: 'session',
  routeRefresh: 'session',
  role: 'session',
  roleStrict: 'session',
  importPolicy: 'import',
  exportPolicy: 'export',
  // The RIB peer's flags are set when the session comes up: a new session applies them.
  routeReflectorClient: 'session',
  allowasIn: 'session',
  // Read with each batch, like the import policy: the table asked for again applies it to all.
  maxAsPathLength: 'import',
  // The ring of the next connection.
  receiveBuffer: 'in-place',
  routeServerClient: 'export',
  nextHop6: 'export',
  advertisementInterval: 'in-place',
};

export interface NeighborChange {
  address: string;
  next: NeighborConfig;
  /** The changed fields as the file spells them ("import-policy", "hold-time"). */
  fields: string[];
  kinds: Set<ChangeKind>;
}

export interface ConfigDiff {
  added: NeighborConfig[];
  /** Addresses. */
  removed: string[];
  changed: NeighborChange[];
  /** Addresses. */
  unchanged: string[];
}

/** A setting the running speaker cannot take: the reload is refused, naming it. */
export class FixedSettingError extends ConfigError {
  constructor(field: string, was: unknown, now: unknown) {
    super(field, '');
    this.message = `${field}: cannot change while running (${show(was)} -> ${show(now)}); restart ribstorm to apply it`;
  }
}

function show(v: unknown): string {
  if (v === undefined) return 'unset';
  const l = v as { address?: unknown; port?: unknown } | null;
  if (l && typeof l === 'object' && typeof l.address === 'string' && typeof l.port === 'number') return JSON.stringify(`${l.address}:${l.port}`);
  return JSON.stringify(v);
}

const SPELLING: Record<string, string> = {
  nextHop6: 'next-hop-v6',
  importPolicy: 'import-policy',
  exportPolicy: 'export-policy',
};

/** Keys of the fixed sections the file spells otherwise: several fields here from one there. */
const SECTION_KEYS: Record<string, Record<string, string>> = {
  // Whether the address was given follows from `listen`.
  api: { explicit: 'listen' },
  bmp: { address: 'station', port: 'station', bufferBytes: 'buffer' },
};

/** A Config key as the file spells it: `remoteAs` -> `remote-as`. */
export function fileKey(key: string): string {
  return SPELLING[key] ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The path (keys) to the first place `a` and `b` differ, or null when they are the same. */
export function firstDifference(a: unknown, b: unknown): string[] | null {
  if (a === b) return null;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return x.length === y.length && x.every((v, i) => v === y[i]) ? null : [];
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [];
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i]);
      if (d) return [String(i), ...d];
    }
    return null;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = a as Record<string, unknown>;
    const kb = b as Record<string, unknown>;
    for (const k of new Set([...Object.keys(ka), ...Object.keys(kb)])) {
      const d = firstDifference(ka[k], kb[k]);
      if (d) return [k, ...d];
    }
    return null;
  }
  return [];
}

/** The sections beside `neighbors` must be equal; the first difference refuses the reload. */
function checkFixed(old: Config, next: Config): void {
  // An absent [api] is the default one.
  const a: Record<string, unknown> = { ...old, api: old.api ?? DEFAULT_API };
  const b: Record<string, unknown> = { ...next, api: next.api ?? DEFAULT_API };
  for (const section of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (section === 'neighbors') continue;
    const d = firstDifference(a[section], b[section]);
    if (!d) continue;
    // Every section beside `neighbors` is a flat table: its key names the field.
    if (d.length === 0) throw new FixedSettingError(section, a[section] === undefined ? undefined : 'set', b[section] === undefined ? undefined : 'set');
    // One list here, two fields in the file: listen-addresses and listen-port.
    if (section === 'global' && d[0] === 'listen') {
      const ports = (c: Config) => c.global.listen.map((l) => l.port).join();
      const field = ports(old) !== ports(next) ? 'global.listen-port' : 'global.listen-addresses';
      throw new FixedSettingError(field, old.global.listen.map((l) => `${l.address}:${l.port}`), next.global.listen.map((l) => `${l.address}:${l.port}`));
    }
    const list = Array.isArray(a[section]) || Array.isArray(b[section]);
    // A list of tables ([[bmp]]): the entry, then its key.
    const entry = (v: unknown) => (list ? (v as unknown[] | undefined)?.[Number(d[0])] : v) as Record<string, unknown> | undefined;
    const key = list ? d[1] : d[0];
    const where = list ? `${section}[${d[0]}]` : section;
    if (key === undefined) throw new FixedSettingError(where, entry(a[section]), entry(b[section]));
    const spelled = SECTION_KEYS[section]?.[key] ?? fileKey(key);
    const at = (v: unknown) => {
      const e = entry(v);
      // "station" is address and port together.
      return spelled === 'station' && e ? `${e.address}:${e.port}` : spelled === 'listen' ? e?.listen : e?.[key];
    };
    throw new FixedSettingError(`${where}.${spelled}`, at(a[section]), at(b[section]));
  }
}

/**
 * The reload from `old` to `next`: neighbors added, removed, changed (with what each change
 * takes) and unchanged. Throws a ConfigError naming the field when `next` changes a setting
 * the running speaker cannot take.
 */
export function diffConfig(old: Config, next: Config): ConfigDiff {
  checkFixed(old, next);
  const before = new Map(old.neighbors.map((n) => [n.address, n]));
  const after = new Set(next.neighbors.map((n) => n.address));
  const diff: ConfigDiff = { added: [], removed: old.neighbors.filter((n) => !after.has(n.address)).map((n) => n.address), changed: [], unchanged: [] };
  for (const n of next.neighbors) {
    const was = before.get(n.address);
    if (!was) {
      diff.added.push(n);
      continue;
    }
    const fields: string[] = [];
    const kinds = new Set<ChangeKind>();
    for (const key of Object.keys(NEIGHBOR_FIELDS) as Array<keyof NeighborConfig>) {
      if (!firstDifference(was[key], n[key])) continue;
      fields.push(fileKey(key));
      kinds.add(NEIGHBOR_FIELDS[key]);
    }
    if (fields.length) diff.changed.push({ address: n.address, next: n, fields, kinds });
    else diff.unchanged.push(n.address);
  }
  return diff;
}
