// RIPE RIS Live subscriptions (ecosystem §2.1): the `ris_subscribe` filters, checked field by
// field, and whether a `ris_message.data` matches them.

import { isIP } from 'node:net';
import { parsePrefix } from '../packet/index.js';

export type RisType = 'UPDATE' | 'OPEN' | 'NOTIFICATION' | 'KEEPALIVE' | 'RIS_PEER_STATE';
const TYPES: readonly RisType[] = ['UPDATE', 'OPEN', 'NOTIFICATION', 'KEEPALIVE', 'RIS_PEER_STATE'];

/** What a filter reads of a message (RIS Live's `ris_message.data`). */
export interface RisData {
  type: RisType;
  peer: string;
  host: string;
  path?: (number | number[])[];
  announcements?: { prefixes: string[] }[];
  withdrawals?: string[];
  [key: string]: unknown;
}

interface ParsedPrefix {
  afi: 1 | 2;
  bytes: Uint8Array;
  length: number;
}

export interface Subscription {
  /** The filters as the client sent them (echoed in ris_subscribe_ok). */
  source: Record<string, unknown>;
  host?: string;
  type?: RisType;
  peer?: string;
  prefixes?: ParsedPrefix[];
  moreSpecific: boolean;
  lessSpecific: boolean;
  path?: { asns: number[]; start: boolean; end: boolean };
  require?: string;
  includeRaw: boolean;
  /** ribstorm: the current table matching the filter first, then an END_OF_RIB marker. */
  snapshot: boolean;
}

const KNOWN = ['host', 'type', 'peer', 'prefix', 'moreSpecific', 'lessSpecific', 'path', 'require', 'includeRaw', 'snapshot', 'socketOptions'];

/** Thrown for a subscription the stream refuses; `field` names what is wrong. */
export class FilterError extends Error {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

function bool(d: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = d[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new FilterError(key, `expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

function prefix(text: unknown): ParsedPrefix {
  if (typeof text !== 'string') throw new FilterError('prefix', `expected a prefix such as "192.0.2.0/24", got ${JSON.stringify(text)}`);
  try {
    return parsePrefix(isIP(text) ? `${text}/${isIP(text) === 6 ? 128 : 32}` : text);
  } catch {
    throw new FilterError('prefix', `not a prefix: ${JSON.stringify(text)}`);
  }
}

/** RIS Live's path filter: ASNs separated by commas, "^" anchoring the first, "$" the last. */
function pathFilter(v: unknown): Subscription['path'] {
  const text = typeof v === 'number' ? String(v) : v;
  if (typeof text !== 'string' || !/^\^?\d+(,\d+)*\$?$/.test(text)) {
    throw new FilterError('path', `expected an AS number or "ASN,ASN" with optional ^ and $, got ${JSON.stringify(v)}`);
  }
  const asns = text.replace(/[\^$]/g, '').split(',').map(Number);
  if (asns.some((a) => a > 0xffffffff)) throw new FilterError('path', `AS number out of range in ${JSON.stringify(v)}`);
  return { asns, start: text.startsWith('^'), end: text.endsWith('$') };
}

export function parseSubscription(data: unknown): Subscription {
  if (data === undefined || data === null) data = {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new FilterError('data', 'expected an object of filters');
  const d = data as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!KNOWN.includes(k)) throw new FilterError(k, `unknown filter (expected ${KNOWN.join(', ')})`);
  const s: Subscription = {
    source: d,
    moreSpecific: bool(d, 'moreSpecific', true),
    lessSpecific: bool(d, 'lessSpecific', false),
    includeRaw: bool(d, 'includeRaw', false),
    snapshot: bool(d, 'snapshot', false),
  };
  if (d.host !== undefined) {
    if (typeof d.host !== 'string') throw new FilterError('host', 'expected a collector name');
    s.host = d.host;
  }
  if (d.type !== undefined) {
    if (!TYPES.includes(d.type as RisType)) throw new FilterError('type', `expected one of ${TYPES.join(', ')}, got ${JSON.stringify(d.type)}`);
    s.type = d.type as RisType;
  }
  if (d.peer !== undefined) {
    if (typeof d.peer !== 'string' || isIP(d.peer) === 0) throw new FilterError('peer', `expected a peer address, got ${JSON.stringify(d.peer)}`);
    s.peer = d.peer;
  }
  if (d.prefix !== undefined) s.prefixes = (Array.isArray(d.prefix) ? d.prefix : [d.prefix]).map(prefix);
  if (d.path !== undefined) s.path = pathFilter(d.path);
  if (d.require !== undefined) {
    if (typeof d.require !== 'string' || !d.require) throw new FilterError('require', 'expected the name of a field');
    s.require = d.require;
  }
  return s;
}

/** Whether `inner` lies within `outer` (same family, at least as long, same leading bits). */
function within(inner: ParsedPrefix, outer: ParsedPrefix): boolean {
  if (inner.afi !== outer.afi || inner.length < outer.length) return false;
  const full = outer.length >> 3;
  for (let i = 0; i < full; i++) if (inner.bytes[i] !== outer.bytes[i]) return false;
  const rest = outer.length & 7;
  if (rest === 0) return true;
  const m = (0xff << (8 - rest)) & 0xff;
  return (inner.bytes[full] & m) === (outer.bytes[full] & m);
}

function prefixMatches(s: Subscription, text: string): boolean {
  let p: ParsedPrefix;
  try {
    p = parsePrefix(text);
  } catch {
    return false;
  }
  return s.prefixes!.some((f) => (p.length === f.length && within(p, f)) || (s.moreSpecific && within(p, f)) || (s.lessSpecific && within(f, p)));
}

function pathMatches(f: NonNullable<Subscription['path']>, path: (number | number[])[] | undefined): boolean {
  if (!path) return false;
  const flat = path.flat();
  const n = f.asns.length;
  for (let i = 0; i + n <= flat.length; i++) {
    if (f.start && i > 0) break;
    if (f.end && i + n !== flat.length) continue;
    if (f.asns.every((a, j) => flat[i + j] === a)) return true;
  }
  return false;
}

export function matches(s: Subscription, d: RisData): boolean {
  if (s.type && d.type !== s.type) return false;
  if (s.host && d.host !== s.host) return false;
  if (s.peer && d.peer !== s.peer) return false;
  if (s.require && d[s.require] === undefined) return false;
  if (s.path && !pathMatches(s.path, d.path)) return false;
  if (s.prefixes) {
    if (d.type !== 'UPDATE') return false;
    const any = (d.withdrawals ?? []).some((p) => prefixMatches(s, p)) || (d.announcements ?? []).some((a) => a.prefixes.some((p) => prefixMatches(s, p)));
    if (!any) return false;
  }
  return true;
}

/** Matches a table row (snapshot): its one prefix and path. */
export function rowMatches(s: Subscription, peer: string, prefixText: string, path: (number | number[])[] | undefined): boolean {
  if (s.type && s.type !== 'UPDATE') return false;
  if (s.peer && s.peer !== peer) return false;
  if (s.path && !pathMatches(s.path, path)) return false;
  return !s.prefixes || prefixMatches(s, prefixText);
}
