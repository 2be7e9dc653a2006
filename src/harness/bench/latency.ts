// Latency, not throughput: with the tables loaded, one sender announces new prefixes at a steady
// rate (one prefix an UPDATE, from 100.64.0.0/10, RFC 6598 space the tables do not use), then
// withdraws them at the same rate; the receivers' UPDATEs say when each change came out. From
// the write of an UPDATE to the first receiver's UPDATE carrying that prefix: p50, p99, max.

import { AttrFlag, AttrType, AsPathSegmentType, encodeUpdate, type PathAttribute } from '../../packet/index.js';
import type { LoadPeer } from '../loadgen/peer.js';
import { prefixKey, prefixKeys } from '../soak/sinkTable.js';

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
  announce: LatencyFigures;
  withdraw: LatencyFigures;
}

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
  lat.sort((a, b) => a - b);
  const q = (f: number) => (lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.floor(f * lat.length))] * 100) / 100 : NaN);
  return { sent: sentAt.length, seen: lat.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: lat.length ? Math.round(lat[lat.length - 1] * 100) / 100 : NaN };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Announces `count` new prefixes from `sender` (AS `senderAs`) at `rate` a second, then
 * withdraws them at that rate; `watch` is called with a listener for each receiver UPDATE.
 */
export async function measureLatency(o: { sender: LoadPeer; senderAs: number; count: number; rate: number; watch: (fn: (b: Buffer, off: number, len: number) => void) => () => void }): Promise<LatencyReport> {
  const { count, rate } = o;
  const index = new Map<number, number>();
  const announce: Buffer[] = [];
  const withdraw: Buffer[] = [];
  const attributes: PathAttribute[] = [
    { type: AttrType.ORIGIN, flags: AttrFlag.Transitive, origin: 0 },
    { type: AttrType.AS_PATH, flags: AttrFlag.Transitive, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [o.senderAs, 64512] }] },
    { type: AttrType.NEXT_HOP, flags: AttrFlag.Transitive, nextHop: '198.18.0.1' },
  ];
  for (let i = 0; i < count; i++) {
    const p = prefixAt(i);
    index.set(prefixKey(p.network, 28), i);
    announce.push(Buffer.from(encodeUpdate({ withdrawn: [], attributes, nlri: [{ prefix: p.text }] }, { asn4: true })));
    withdraw.push(Buffer.from(encodeUpdate({ withdrawn: [{ prefix: p.text }], attributes: [], nlri: [] }, { asn4: true })));
  }
  const phase = async (messages: Buffer[], isAnnounce: boolean): Promise<LatencyFigures> => {
    const sentAt = new Float64Array(count);
    const seenAt = new Float64Array(count);
    const stop = o.watch((b, off, len) => {
      const now = performance.now();
      const { withdrawn, announced } = prefixesOf(b, off, len);
      for (const n of isAnnounce ? announced : withdrawn) {
        const i = index.get(n);
        if (i !== undefined && sentAt[i] > 0 && seenAt[i] === 0) seenAt[i] = now;
      }
    });
    const t0 = performance.now();
    let i = 0;
    while (i < count) {
      // Everything due by now goes in one write; the next tick a millisecond later.
      const due = Math.min(count, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
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
  };
  const a = await phase(announce, true);
  await sleep(500);
  const w = await phase(withdraw, false);
  return { rate, announce: a, withdraw: w };
}
