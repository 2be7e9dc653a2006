// Latency, not throughput: with the tables loaded, changes at a steady rate, one prefix an
// UPDATE; the receivers' UPDATEs say when each change came out. From the write of an UPDATE to
// the first receiver's UPDATE carrying that prefix: p50, p99, max. Two cases:
// - a route flap: one sender announces new prefixes (from 100.64.0.0/10, RFC 6598 space the
//   tables do not use), then withdraws them;
// - a best-path change: the second sender announces prefixes of the loaded tables with a path
//   shorter than any loaded one (it becomes best), then with a longer one (the best path goes
//   back to a loaded one).

import { AttrFlag, AttrType, AsPathSegmentType, encodeUpdate, type PathAttribute } from '../../packet/index.js';
import { AttrWalker } from '../../packet/attr/walk.js';
import type { LoadPeer } from '../loadgen/peer.js';
import type { EncodedTable } from '../tablegen/index.js';
import { prefixKey, prefixKeys, prefixText } from '../soak/sinkTable.js';
import { percentiles } from './stats.js';

export interface LatencyFigures {
  /** Changes sent, and seen at the receiver. */
  sent: number;
  seen: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LatencyReport {
  /** UPDATEs per second the sender kept to. */
  rate: number;
  /** The route flap: new prefixes announced, then withdrawn. */
  announce: LatencyFigures;
  withdraw: LatencyFigures;
  /** The best-path change (with two senders or more): a better path announced, then a worse one. */
  better?: LatencyFigures;
  worse?: LatencyFigures;
}

type Watch = (fn: (b: Buffer, off: number, len: number) => void) => () => void;

/** The i-th prefix of the run: a /28 in 100.64.0.0/10, as (network, length 28). */
function prefixAt(i: number): { text: string; network: number } {
  const network = ((100 << 24) | (64 << 16)) + i * 16;
  const n = network >>> 0;
  return { text: `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/28`, network: n };
}

/** The prefixes (as prefixKey) an UPDATE withdraws and announces. */
function prefixesOf(b: Buffer, off: number, len: number): { withdrawn: number[]; announced: number[] } {
  const end = off + len;
  let p = off + 19;
  const wLen = b.readUInt16BE(p);
  p += 2;
  const withdrawn = prefixKeys(b, p, p + wLen);
  p += wLen;
  const aLen = b.readUInt16BE(p);
  return { withdrawn, announced: prefixKeys(b, p + 2 + aLen, end) };
}


function figures(sentAt: Float64Array, seenAt: Float64Array): LatencyFigures {
  const lat: number[] = [];
  for (let i = 0; i < sentAt.length; i++) if (seenAt[i] > 0) lat.push(seenAt[i] - sentAt[i]);
  return { sent: sentAt.length, seen: lat.length, ...percentiles(lat) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends `messages` (message i changes the prefix keyed keys[i]) at `rate` a second and times
 * each until a receiver's UPDATE announces (or with `withdrawal`, withdraws) its prefix.
 */
async function timeChanges(o: { sender: LoadPeer; rate: number; watch: Watch }, messages: Buffer[], keys: number[], withdrawal: boolean): Promise<LatencyFigures> {
  const count = messages.length;
  const index = new Map<number, number>(keys.map((k, i) => [k, i]));
  const sentAt = new Float64Array(count);
  const seenAt = new Float64Array(count);
  const stop = o.watch((b, off, len) => {
    const now = performance.now();
    const { withdrawn, announced } = prefixesOf(b, off, len);
    for (const n of withdrawal ? withdrawn : announced) {
      const i = index.get(n);
      if (i !== undefined && sentAt[i] > 0 && seenAt[i] === 0) seenAt[i] = now;
    }
  });
  const t0 = performance.now();
  let i = 0;
  while (i < count) {
    // Everything due by now goes in one write; the next tick a millisecond later.
    const due = Math.min(count, Math.floor(((performance.now() - t0) * o.rate) / 1000) + 1);
    if (due > i) {
      const batch = messages.slice(i, due);
      const at = performance.now();
      for (let k = i; k < due; k++) sentAt[k] = at;
      i = due;
      await o.sender.write(batch.length === 1 ? batch[0] : Buffer.concat(batch));
    }
    await sleep(1);
  }
  // Until every change came out, or a second passed without one.
  let last = -1;
  let quietSince = performance.now();
  for (;;) {
    let seen = 0;
    for (let k = 0; k < count; k++) if (seenAt[k] > 0) seen++;
    if (seen === count) break;
    if (seen !== last) [last, quietSince] = [seen, performance.now()];
    else if (performance.now() - quietSince > 1000) break;
    await sleep(20);
  }
  stop();
  return figures(sentAt, seenAt);
}

const announcement = (prefix: string, asPath: number[]): Buffer =>
  Buffer.from(
    encodeUpdate(
      {
        withdrawn: [],
        attributes: [
          { type: AttrType.ORIGIN, flags: AttrFlag.Transitive, origin: 0 },
          { type: AttrType.AS_PATH, flags: AttrFlag.Transitive, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns: asPath }] },
          { type: AttrType.NEXT_HOP, flags: AttrFlag.Transitive, nextHop: '198.18.0.1' },
        ] satisfies PathAttribute[],
        nlri: [{ prefix }],
      },
      { asn4: true },
    ),
  );

/** The route flap: `count` new prefixes announced from `sender` (AS `senderAs`) at `rate` a second, then withdrawn. */
async function routeFlap(o: { sender: LoadPeer; senderAs: number; count: number; rate: number; watch: Watch }): Promise<{ announce: LatencyFigures; withdraw: LatencyFigures }> {
  const keys: number[] = [];
  const announce: Buffer[] = [];
  const withdraw: Buffer[] = [];
  for (let i = 0; i < o.count; i++) {
    const p = prefixAt(i);
    keys.push(prefixKey(p.network, 28));
    announce.push(announcement(p.text, [o.senderAs, 64512]));
    withdraw.push(Buffer.from(encodeUpdate({ withdrawn: [{ prefix: p.text }], attributes: [], nlri: [] }, { asn4: true })));
  }
  const a = await timeChanges(o, announce, keys, false);
  await sleep(500);
  return { announce: a, withdraw: await timeChanges(o, withdraw, keys, true) };
}

/** AS_PATH length (AS_SEQUENCE members, an AS_SET as one) of each prefix a table announces. */
function pathLengths(t: EncodedTable): Map<number, number> {
  const out = new Map<number, number>();
  const b = t.updates;
  for (let off = 0; off < b.length; off += b.readUInt16BE(off + 16)) {
    const end = off + b.readUInt16BE(off + 16);
    const wLen = b.readUInt16BE(off + 19);
    const aStart = off + 23 + wLen;
    const aEnd = aStart + b.readUInt16BE(off + 21 + wLen);
    let length = -1;
    const w = new AttrWalker(b, aStart, aEnd);
    while (w.next()) {
      if (w.type !== AttrType.AS_PATH) continue;
      length = 0;
      for (let q = w.value; q < w.value + w.length; q += 2 + b[q + 1] * 4) length += b[q] === AsPathSegmentType.AS_SET ? 1 : b[q + 1];
    }
    if (length >= 0) for (const k of prefixKeys(b, aEnd, end)) out.set(k, length);
  }
  return out;
}

/** The longest AS_PATH the worse path carries: longer than any loaded path it is to lose to. */
const WORSE_PATH_LENGTH = 12;

/**
 * The best-path change: `count` prefixes every loaded table holds with a path of 2 to 11 ASes;
 * `sender` (the second sender, AS `senderAs`) announces each with the path [senderAs] (now the
 * shortest: best), then with [senderAs x 12] (now the longest: a loaded path is best again).
 */
async function bestPathChange(o: { sender: LoadPeer; senderAs: number; tables: EncodedTable[]; count: number; rate: number; watch: Watch }): Promise<{ better: LatencyFigures; worse: LatencyFigures } | null> {
  const lengths = o.tables.map(pathLengths);
  const keys: number[] = [];
  for (const k of lengths[0].keys()) {
    if (keys.length === o.count) break;
    if (lengths.every((m) => { const l = m.get(k); return l !== undefined && l >= 2 && l < WORSE_PATH_LENGTH; })) keys.push(k);
  }
  if (keys.length < o.count) return null;
  const better = keys.map((k) => announcement(prefixText(k), [o.senderAs]));
  const worse = keys.map((k) => announcement(prefixText(k), Array(WORSE_PATH_LENGTH).fill(o.senderAs)));
  const b = await timeChanges(o, better, keys, false);
  await sleep(500);
  return { better: b, worse: await timeChanges(o, worse, keys, false) };
}

/**
 * Both cases, one after the other: the route flap from the first sender; with two senders or
 * more, the best-path change from the second.
 */
export async function measureLatency(o: { senders: LoadPeer[]; senderAs: number[]; tables: EncodedTable[]; count: number; rate: number; watch: Watch }): Promise<LatencyReport> {
  const flap = await routeFlap({ sender: o.senders[0], senderAs: o.senderAs[0], count: o.count, rate: o.rate, watch: o.watch });
  if (o.senders.length < 2) return { rate: o.rate, ...flap };
  await sleep(500);
  const change = await bestPathChange({ sender: o.senders[1], senderAs: o.senderAs[1], tables: o.tables, count: o.count, rate: o.rate, watch: o.watch });
  return { rate: o.rate, ...flap, ...change };
}
