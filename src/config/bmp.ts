// The `[[bmp]]` tables: the BMP stations ribstorm exports to (RFC 7854), one table each, in
// GoBGP's terms (`[[bmp-servers]]`: route-monitoring-policy, statistics-timeout).

import { ConfigError, Fields, parseHostPort, type Obj } from './fields.js';

/** What a station is sent: each neighbor's Adj-RIB-In before policy, and the Loc-RIB (RFC 9069). */
export type Monitoring = 'pre-policy' | 'local-rib';
const MONITORING_NAMES = ['pre-policy', 'local-rib', 'all'] as const;

export interface BmpConfig {
  /** The station's address and port (1790 when left out). */
  address: string;
  port: number;
  monitoring: Monitoring[];
  /** Seconds between Statistics Reports; 0: none. */
  statisticsInterval: number;
  /** Octets the send buffer may hold before the connection is closed and started again. */
  bufferBytes: number;
}

export const BMP_DEFAULT_PORT = 1790;
export const DEFAULT_BMP_STATISTICS_INTERVAL = 60;
export const DEFAULT_BMP_BUFFER = 32 << 20;
const MIN_BMP_BUFFER = 16 << 10;

function monitoring(raw: unknown, field: string): Monitoring[] {
  const expected = `"pre-policy", "local-rib" or "all", or a list of them ("post-policy" is not supported yet)`;
  const list = raw === undefined ? ['pre-policy'] : typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(list) || list.length === 0 || list.some((x) => !MONITORING_NAMES.includes(x as never))) throw new ConfigError(field, expected, raw);
  const out = new Set<Monitoring>();
  for (const m of list as Array<(typeof MONITORING_NAMES)[number]>) {
    if (m === 'all') ['pre-policy', 'local-rib'].forEach((x) => out.add(x as Monitoring));
    else out.add(m);
  }
  return [...out];
}

/** One station from "ADDR:PORT" (the `--bmp` flag's form) and the rest at their defaults. */
export function bmpStation(text: string, field: string, rest: Partial<BmpConfig> = {}): BmpConfig {
  const { address, port } = parseHostPort(text, field, BMP_DEFAULT_PORT);
  return { address, port, monitoring: ['pre-policy'], statisticsInterval: DEFAULT_BMP_STATISTICS_INTERVAL, bufferBytes: DEFAULT_BMP_BUFFER, ...rest };
}

export function validateBmp(raw: unknown): BmpConfig[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new ConfigError('bmp', 'a list of [[bmp]] tables', raw);
  const out = raw.map((obj, i) => {
    const path = `bmp[${i}]`;
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new ConfigError(path, 'a table', obj);
    const f = new Fields(obj as Obj, path);
    const station = f.raw('station');
    if (typeof station !== 'string') throw new ConfigError(`${path}.station`, '"ADDRESS:PORT" of a BMP station', station);
    const c = bmpStation(station, `${path}.station`, {
      monitoring: monitoring(f.raw('monitoring'), `${path}.monitoring`),
      statisticsInterval: f.int('statistics-interval', 0, 86400, DEFAULT_BMP_STATISTICS_INTERVAL, 'seconds from 0 (none) to 86400'),
      bufferBytes: f.int('buffer', MIN_BMP_BUFFER, 1 << 30, DEFAULT_BMP_BUFFER, `octets from ${MIN_BMP_BUFFER} to ${1 << 30}`),
    });
    f.done();
    return c;
  });
  const seen = new Set<string>();
  out.forEach((c, i) => {
    const k = `${c.address}|${c.port}`;
    if (seen.has(k)) throw new ConfigError(`bmp[${i}].station`, 'a station not listed twice', `${c.address}:${c.port}`);
    seen.add(k);
  });
  return out;
}
