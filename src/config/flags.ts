// The one-line form of the configuration: `--as N --router-id ID --listen ADDR:PORT --peer SPEC`.
// A peer SPEC is ADDRESS:REMOTE_AS followed by comma-separated neighbor fields, spelled as in
// the config file: 127.0.0.3:65002,passive,hold-time=9,port=1790,families=ipv4-unicast+ipv6-unicast

import { isIP } from 'node:net';
import { checkDistinctNeighbors, ConfigError, DEFAULT_RIB, parseHostPort, validateNeighbor, type Config } from './schema.js';

function fieldValue(key: string, v: string): unknown {
  if (key === 'families') return v.split('+');
  if (['description', 'address', 'local-address', 'add-path', 'role', 'import-policy', 'export-policy', 'next-hop-v6'].includes(key)) return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (/^\d+$/.test(v)) return Number(v);
  return v;
}

export function parsePeerSpec(spec: string, field: string): Record<string, unknown> {
  const [head, ...opts] = spec.split(',');
  const m = head.match(/^\[([^\]]+)\]:(\d+)$/) ?? head.match(/^([^:]+):(\d+)$/);
  if (!m || isIP(m[1]) === 0) {
    throw new ConfigError(field, 'ADDRESS:REMOTE_AS[,field=value...] (IPv6 as [ADDRESS]:REMOTE_AS)', spec);
  }
  const obj: Record<string, unknown> = { address: m[1], 'remote-as': Number(m[2]) };
  for (const o of opts) {
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    if (!key) throw new ConfigError(field, 'field=value pairs after the address', spec);
    const value = eq < 0 ? true : fieldValue(key, o.slice(eq + 1));
    const parts = key.split('.');
    if (parts.length === 2) {
      const t = (obj[parts[0]] ??= {}) as Record<string, unknown>;
      t[parts[1]] = value;
    } else obj[key] = value;
  }
  return obj;
}

export interface RunFlags {
  as?: string;
  'router-id'?: string;
  listen?: string[];
  peer?: string[];
  workers?: string;
}

/** Builds and validates a Config from flags; errors name the flag the user typed. */
export function configFromFlags(f: RunFlags): Config {
  if (f.as === undefined) throw new ConfigError('--as', 'the local AS number (or --config FILE)');
  const asn = Number(f.as);
  if (!/^\d+$/.test(f.as) || asn < 1 || asn > 0xffffffff) throw new ConfigError('--as', 'an AS number from 1 to 4294967295', f.as);
  const routerId = f['router-id'];
  if (routerId === undefined || isIP(routerId) !== 4 || routerId === '0.0.0.0') {
    throw new ConfigError('--router-id', 'a non-zero dotted-quad BGP Identifier such as 10.0.0.1', routerId);
  }
  const listen = (f.listen ?? ['0.0.0.0:179']).map((l, i) => parseHostPort(l, `--listen[${i}]`, 179));
  const neighbors = (f.peer ?? []).map((p, i) => validateNeighbor(parsePeerSpec(p, `--peer[${i}]`), `--peer[${i}]`));
  checkDistinctNeighbors(neighbors, '--peer');
  let workers: number | undefined;
  if (f.workers !== undefined) {
    workers = Number(f.workers);
    if (!/^\d+$/.test(f.workers) || workers < 1 || workers > 256) throw new ConfigError('--workers', 'a worker count from 1 to 256', f.workers);
  }
  return { global: { asn, routerId, listen }, rib: { ...DEFAULT_RIB, workers }, neighbors };
}
