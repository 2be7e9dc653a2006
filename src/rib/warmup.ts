// Start-up of a worker: synthetic UPDATEs run through the same code as the batches (parse,
// attribute sets interned, operations applied shard by shard, the decision, the packed result)
// against a small RIB of the worker's own, so V8 has compiled the hot functions before the
// first real UPDATE arrives instead of while the first full feed is being applied. Nothing of
// it reaches the shared RIB: the scratch RIB is allocated here and dropped.

import { BatchApplier, packResult, type PeerContext } from './apply.js';
import { allocateRib, PEER_ADDR, PEER_AS, PEER_ID, PEER_WORDS, RibViews } from './memory.js';

/** Synthetic UPDATEs per round; every round announces, re-announces and withdraws. */
const UPDATES = 600;
const ROUNDS = 4;
/** Prefixes in UPDATE `u`: 1 to 11, 6 on average. */
const prefixCount = (u: number) => 1 + (u % 11);
/** UPDATEs per batch, about a receive ring's share at full-table rates. */
const BATCH = 200;

const WARM_PEERS = [
  { index: 1, asn: 64601, routerId: 0x0a000001, address: 0x0a000001 },
  { index: 2, asn: 4_200_000_002, routerId: 0xc0000202, address: 0xc0000202 },
];

/**
 * Runs the warm-up in the calling thread (a RIB worker, once, before its first task); about
 * 0.1 s of one core. `shards`: the real RIB's, so the loops over shards run as often. Returns
 * the batches run and how many of them ended in an error (none should).
 */
export function warmUp(shards: number): { batches: number; errors: number } {
  // Results travel back transferred, which detaches their ArrayBuffer; V8 assumes no buffer is
  // ever detached until the first one is, and then drops all code compiled on that assumption.
  // Detached once here, first: what is compiled below stays.
  const detached = new ArrayBuffer(8);
  structuredClone(detached, { transfer: [detached] });
  const v = new RibViews(allocateRib(64600, { shards, prefixes: 16_384, prefixes6: 64, paths: 65_536, attributeSets: 8192, attributeBytes: 96, attributeIndex: 16_384 }));
  for (const p of WARM_PEERS) {
    v.peers[p.index * PEER_WORDS + PEER_AS] = p.asn;
    v.peers[p.index * PEER_WORDS + PEER_ID] = p.routerId;
    v.peers[p.index * PEER_WORDS + PEER_ADDR] = p.address;
  }
  const applier = new BatchApplier(v);
  // Cloned per batch like a task's: its strings are not the literals' (V8 tells them apart).
  const ctx = (): PeerContext => structuredClone({ asn4: true, ebgp: true, addPath: false, import: 'accept' });
  const w = new UpdateWriter(UPDATES * 256);
  let seq = 0;
  let errors = 0;
  const run = (peer: number, d: Uint32Array) => {
    const r = applier.applyUpdates(seq++, peer, ctx(), w.bytes, d);
    if (r.error) errors++;
    packResult(r);
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const p of WARM_PEERS) {
      // The second round of each peer sends the same sets again: found, not checked again.
      const variant = round >> 1;
      w.reset();
      for (let u = 0; u < UPDATES; u++) w.announce(p.asn, u, variant + p.index, prefixCount(u));
      for (const d of w.batches(BATCH)) run(p.index, d);
    }
    // Withdrawals of every other UPDATE's prefixes, by the first peer.
    w.reset();
    for (let u = 0; u < UPDATES; u += 2) w.withdraw(u, prefixCount(u));
    for (const d of w.batches(BATCH)) run(WARM_PEERS[0].index, d);
  }
  packResult(applier.flushPeer(seq++, WARM_PEERS[1].index));
  return { batches: seq, errors };
}

/** IPv4 UPDATEs from a 4-octet-AS eBGP peer, written into shared memory as a session's ring holds them. */
class UpdateWriter {
  readonly bytes: Uint8Array;
  private at = 0;
  private readonly starts: number[] = [];

  constructor(size: number) {
    this.bytes = new Uint8Array(new SharedArrayBuffer(size));
  }

  reset(): void {
    this.at = 0;
    this.starts.length = 0;
  }

  /** Descriptor lists (offset, length pairs) of `per` UPDATEs each. */
  batches(per: number): Uint32Array[] {
    const out: Uint32Array[] = [];
    for (let i = 0; i < this.starts.length; i += per) {
      const n = Math.min(per, this.starts.length - i);
      const d = new Uint32Array(n * 2);
      for (let j = 0; j < n; j++) {
        const start = this.starts[i + j];
        d[j * 2] = start;
        d[j * 2 + 1] = (this.bytes[start + 16] << 8) | this.bytes[start + 17];
      }
      out.push(d);
    }
    return out;
  }

  /** UPDATE `u`: ORIGIN, AS_PATH, NEXT_HOP, and by turns MED, AGGREGATOR, COMMUNITIES, LARGE_COMMUNITY. */
  announce(senderAs: number, u: number, variant: number, prefixes: number): void {
    const start = this.begin();
    this.u16(0); // no withdrawn routes
    const attrLenAt = this.at;
    this.u16(0);
    this.attr(0x40, 1, 1).u8(u % 3); // ORIGIN
    const hops = 1 + ((u + variant) % 5);
    this.attr(0x40, 2, 2 + 4 * hops).u8(2).u8(hops); // AS_PATH: one AS_SEQUENCE
    this.u32(senderAs);
    for (let h = 1; h < hops; h++) this.u32(h === 3 ? 4_200_000_000 + u : 65_000 + ((u * 7 + h * 13 + variant) % 3000));
    this.attr(0x40, 3, 4).u32(0xc6120001); // NEXT_HOP 198.18.0.1
    if (u % 2 === 0) this.attr(0x80, 4, 4).u32(u % 16 === 0 ? 0xfffffff0 - variant : (u + variant) % 50); // MULTI_EXIT_DISC
    if (u % 5 === 0) this.attr(0xc0, 7, 8).u32(64_700 + (u % 9)).u32(0xc0000201); // AGGREGATOR
    if (u % 3 !== 0) {
      const n = 1 + (u % 4);
      this.attr(0xc0, 8, 4 * n); // COMMUNITIES
      for (let c = 0; c < n; c++) this.u32(((senderAs & 0xffff) << 16) | (100 + c + variant));
    }
    if (u % 7 === 0) this.attr(0xc0, 32, 12).u32(senderAs).u32(1).u32(variant); // LARGE_COMMUNITY
    this.put16(attrLenAt, this.at - attrLenAt - 2);
    this.nlri(u, prefixes);
    this.end(start);
  }

  withdraw(u: number, prefixes: number): void {
    const start = this.begin();
    const lenAt = this.at;
    this.u16(0);
    this.nlri(u, prefixes);
    this.put16(lenAt, this.at - lenAt - 2);
    this.u16(0); // no path attributes
    this.end(start);
  }

  /** The prefixes of UPDATE `u`: /8 to /24 all over the unicast space (addresses above 2^31 too). */
  private nlri(u: number, prefixes: number): void {
    for (let i = 0; i < prefixes; i++) {
      const h = Math.imul(u * 64 + i + 1, 0x9e3779b1) >>> 0;
      const len = 8 + (h % 17);
      const addr = ((1 + ((h >>> 8) % 223)) * 0x1000000 + (Math.imul(h, 0x85ebca6b) >>> 8)) & (0xffffffff << (32 - len));
      this.u8(len);
      for (let b = 0; b < (len + 7) >> 3; b++) this.u8((addr >>> (24 - 8 * b)) & 0xff);
    }
  }

  private begin(): number {
    const start = this.at;
    for (let i = 0; i < 16; i++) this.u8(0xff);
    this.u16(0).u8(2); // length, type UPDATE
    return start;
  }

  private end(start: number): void {
    this.put16(start + 16, this.at - start);
    this.starts.push(start);
  }

  private attr(flags: number, type: number, length: number): this {
    return this.u8(flags).u8(type).u8(length);
  }

  private u8(x: number): this {
    this.bytes[this.at++] = x;
    return this;
  }

  private u16(x: number): this {
    return this.u8(x >>> 8).u8(x & 0xff);
  }

  private u32(x: number): this {
    return this.u16(x >>> 16).u16(x & 0xffff);
  }

  private put16(at: number, x: number): void {
    this.bytes[at] = x >>> 8;
    this.bytes[at + 1] = x & 0xff;
  }
}
