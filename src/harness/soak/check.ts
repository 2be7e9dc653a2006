// The soak's end: ribstorm's Loc-RIB (read through its API, GET /rib as NDJSON) against the
// reference RIB (rib/reference.ts) fed what each sender's current session announced, and the
// receiving peer's table against what RFC 4271 says it must hold: every Loc-RIB prefix, learned
// from the best path's neighbor.

import type { PeerInfo } from '../../rib/pipeline.js';
import { ReferenceRib } from '../../rib/reference.js';
import type { PeerContext } from '../../rib/parse.js';
import { parsePrefixKey, prefixText, type SinkTable } from './sinkTable.js';

/** A sender as the reference sees it: its address, AS, and what its current session sent, in order. */
export interface SenderHistory {
  address: string;
  asn: number;
  /** Buffers of whole UPDATEs, back to back. */
  sent: Buffer[];
}

export interface Comparison {
  /** Prefixes in the reference Loc-RIB. */
  expected: number;
  /** Prefixes with a best path in ribstorm's Loc-RIB. */
  held: number;
  /** Prefixes whose best path is missing, extra, or from another peer; the first few named. */
  mismatches: number;
  examples: string[];
}

const EBGP: PeerContext = { asn4: true, ebgp: true, addPath: false, import: 'accept' };

/** The reference Loc-RIB: prefix key -> the best path's sender index. */
export function referenceLocRib(localAs: number, senders: SenderHistory[]): Map<number, number> {
  const peers = new Map<number, PeerInfo>();
  senders.forEach((s, i) => peers.set(i + 1, { asn: s.asn, routerId: ipv4(s.address), address: ipv4(s.address), ibgp: false }));
  const ref = new ReferenceRib(localAs, peers);
  senders.forEach((s, i) => {
    for (const b of s.sent) for (let off = 0; off < b.length; off += b.readUInt16BE(off + 16)) ref.apply(i + 1, EBGP, b.subarray(off, off + b.readUInt16BE(off + 16)));
  });
  const out = new Map<number, number>();
  for (const [prefix, best] of ref.locRib()) if (!prefix.includes(':')) out.set(parsePrefixKey(prefix), best.peer - 1);
  return out;
}

function ipv4(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0) >>> 0;
}

/** ribstorm's Loc-RIB through its API: prefix key -> the best path's peer address. */
export async function fetchLocRib(api: string): Promise<Map<number, string>> {
  const res = await fetch(`http://${api}/rib?family=ipv4&format=ndjson`);
  if (!res.ok || !res.body) throw new Error(`GET /rib: HTTP ${res.status}`);
  const out = new Map<number, string>();
  const decoder = new TextDecoder();
  let rest = '';
  const take = (line: string) => {
    // Only the best paths matter; the others are not parsed.
    if (!line.includes('"best":true')) return;
    const row = JSON.parse(line) as { prefix: string; fromPeer: string };
    out.set(parsePrefixKey(row.prefix), row.fromPeer);
  };
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const text = rest + decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    rest = lines.pop()!;
    for (const l of lines) take(l);
  }
  if (rest) take(rest);
  return out;
}

function compare(expected: Map<number, number>, held: Map<number, unknown>, same: (key: number, sender: number) => boolean, heldSize: number): Comparison {
  const c: Comparison = { expected: expected.size, held: heldSize, mismatches: 0, examples: [] };
  const note = (text: string) => {
    c.mismatches++;
    if (c.examples.length < 5) c.examples.push(text);
  };
  for (const [key, sender] of expected) {
    if (!held.has(key)) note(`${prefixText(key)}: missing`);
    else if (!same(key, sender)) note(`${prefixText(key)}: best from ${String(held.get(key))}, the reference says sender ${sender}`);
  }
  for (const key of held.keys()) if (!expected.has(key)) note(`${prefixText(key)}: held, the reference has no path`);
  return c;
}

/** ribstorm's Loc-RIB against the reference: the same prefixes, each best from the same sender. */
export function compareLocRib(expected: Map<number, number>, locRib: Map<number, string>, senders: SenderHistory[]): Comparison {
  return compare(expected, locRib, (key, sender) => locRib.get(key) === senders[sender].address, locRib.size);
}

/** The receiver's table against the reference Loc-RIB: the same prefixes, each through the best path's neighbor AS. */
export function compareSink(expected: Map<number, number>, sink: SinkTable, senders: SenderHistory[]): Comparison {
  return compare(expected, sink.routes, (key, sender) => sink.routes.get(key) === senders[sender].asn, sink.routes.size);
}
