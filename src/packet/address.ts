// IP addresses and prefixes as text <-> octets.

import { isIPv6 } from 'node:net';

/** Dotted quad to octets, as strict as net.isIPv4 (no leading zeros); null when it is not one. */
function parseIpv4(addr: string, end = addr.length): Uint8Array | null {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= end; i++) {
    const c = i < end ? addr.charCodeAt(i) : 46; // a final '.' closes the last octet
    if (c >= 48 && c <= 57) {
      if (digits === 1 && value === 0) return null; // leading zero
      value = value * 10 + c - 48;
      if (++digits > 3 || value > 255) return null;
    } else if (c === 46 && digits > 0 && part < 4) {
      out[part++] = value;
      value = 0;
      digits = 0;
    } else return null;
  }
  return part === 4 ? out : null;
}

export function ipv4ToBytes(addr: string): Uint8Array {
  const b = parseIpv4(addr);
  if (!b) throw new Error(`not an IPv4 address: ${addr}`);
  return b;
}

export function ipv4FromBytes(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

export function ipv4ToNumber(addr: string): number {
  const b = ipv4ToBytes(addr);
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

export function ipv4FromNumber(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

export function ipv6ToBytes(addr: string): Uint8Array {
  if (!isIPv6(addr)) throw new Error(`not an IPv6 address: ${addr}`);
  let text = addr;
  const out = new Uint8Array(16);
  // An embedded dotted quad occupies the last two groups.
  const dotted = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    out.set(ipv4ToBytes(dotted[1]), 12);
    text = text.slice(0, -dotted[1].length) + '0:0';
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  for (let i = 0; i < 8; i++) {
    const v = parseInt(groups[i], 16);
    if (dotted && i >= 6) continue;
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  }
  return out;
}

export function ipv6FromBytes(b: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + i * 2] << 8) | b[off + i * 2 + 1]);
  // RFC 5952: compress the longest run (of at least two) of zero groups.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export interface Prefix {
  /** "192.0.2.0/24" or "2001:db8::/32". */
  prefix: string;
  /** RFC 7911 path identifier, present only when ADD-PATH applies to the family. */
  pathId?: number;
}

/** Parses "a.b.c.d/len" or "x::/len" into family, octets (16 or 4) and length. */
export function parsePrefix(text: string): { afi: 1 | 2; bytes: Uint8Array; length: number } {
  const slash = text.lastIndexOf('/');
  if (slash < 0) throw new Error(`not a prefix: ${text}`);
  const length = Number(text.slice(slash + 1));
  const v4 = parseIpv4(text, slash);
  if (v4) {
    if (!Number.isInteger(length) || length < 0 || length > 32 || slash === text.length - 1) throw new Error(`bad prefix length: ${text}`);
    return { afi: 1, bytes: v4, length };
  }
  const addr = text.slice(0, slash);
  if (isIPv6(addr)) {
    if (!Number.isInteger(length) || length < 0 || length > 128) throw new Error(`bad prefix length: ${text}`);
    return { afi: 2, bytes: ipv6ToBytes(addr), length };
  }
  throw new Error(`not a prefix: ${text}`);
}

export function formatPrefix(afi: number, bytes: Uint8Array, length: number): string {
  return `${afi === 1 ? ipv4FromBytes(bytes) : ipv6FromBytes(bytes)}/${length}`;
}
