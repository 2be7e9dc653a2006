// One dump peer's routes as read (attribute-block id and prefix per route, in typed arrays),
// and their packing into an UPDATE stream, prefixes sharing a block together.

import type { BlockInterner } from './intern.js';
import { grow } from './intern.js';
import { endOfRibMarkers, type EncodedTable } from './table.js';
import { UpdateWriter } from './writer.js';

export class PeerRoutes {
  private group = new Int32Array(256);
  private nlriAt = new Int32Array(256);
  private nlri = Buffer.allocUnsafe(4096);
  private used = 0;
  count = 0;
  ipv4 = 0;
  ipv6 = 0;

  /**
   * Adds a route: block id `group`, prefix of `length` bits whose network octets start at
   * src[off]. Host bits are cleared, as a dump may carry them.
   */
  add(group: number, family: 4 | 6, length: number, src: Uint8Array, off: number): void {
    const n = (length + 7) >> 3;
    if (this.count === this.group.length) {
      this.group = grow(this.group, this.count * 2);
      this.nlriAt = grow(this.nlriAt, this.count * 2);
    }
    if (this.used + 1 + n > this.nlri.length) {
      const next = Buffer.allocUnsafe(this.nlri.length * 2 + n + 1);
      this.nlri.copy(next, 0, 0, this.used);
      this.nlri = next;
    }
    const b = this.nlri;
    let p = this.used;
    this.group[this.count] = group;
    this.nlriAt[this.count++] = p;
    b[p++] = length;
    for (let i = 0; i < n; i++) b[p++] = src[off + i];
    if (length & 7) b[p - 1] &= (0xff << (8 - (length & 7))) & 0xff;
    this.used = p;
    if (family === 4) this.ipv4++;
    else this.ipv6++;
  }

  /**
   * Packs the routes: blocks in order of first use, IPv4 before IPv6. A block too large for
   * one message with a prefix in it cannot be sent at this message size: its routes are
   * left out and counted in `oversized`.
   */
  toTable(blocks: BlockInterner, maxMessageLength: number): EncodedTable & { oversized: number } {
    const n = this.count;
    // Local numbering of the blocks this peer uses, in first-use order.
    const local = new Map<number, number>();
    const firstUse: number[] = [];
    const localOf = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const g = this.group[i];
      let l = local.get(g);
      if (l === undefined) {
        l = firstUse.length;
        local.set(g, l);
        firstUse.push(g);
      }
      localOf[i] = l;
    }
    const sets = firstUse.length;
    // Counting sort of routes by block, IPv4 blocks first.
    const start = new Int32Array(sets + 1);
    for (let i = 0; i < n; i++) start[localOf[i] + 1]++;
    const rank = new Int32Array(sets);
    let r = 0;
    for (const fam of [4, 6]) {
      for (let l = 0; l < sets; l++) if (blocks.family[firstUse[l]] === fam) rank[r++] = l;
    }
    const offsetOf = new Int32Array(sets);
    let acc = 0;
    for (let k = 0; k < sets; k++) {
      const l = rank[k];
      offsetOf[l] = acc;
      acc += start[l + 1];
    }
    const order = new Int32Array(n);
    const fill = offsetOf.slice();
    for (let i = 0; i < n; i++) order[fill[localOf[i]]++] = i;

    const writer = new UpdateWriter(maxMessageLength, this.used + sets * 100 + 4096);
    const arena = blocks.bytes;
    let oversized4 = 0;
    let oversized6 = 0;
    let written = 0;
    for (let k = 0; k < sets; k++) {
      const l = rank[k];
      const g = firstUse[l];
      const count = start[l + 1];
      const from = offsetOf[l];
      const family = blocks.family[g];
      if (!writer.fits(blocks.length[g], family === 4 ? 5 : 17)) {
        if (family === 4) oversized4 += count;
        else oversized6 += count;
        continue;
      }
      written++;
      writer.startGroup(arena, blocks.offset[g], blocks.length[g], blocks.mpReachAt[g]);
      for (let j = from; j < from + count; j++) {
        const at = this.nlriAt[order[j]];
        writer.addNlri(this.nlri, at, 1 + ((this.nlri[at] + 7) >> 3));
      }
    }
    return {
      updates: writer.finish(),
      endOfRib: endOfRibMarkers(this.ipv6 - oversized6 > 0),
      messageCount: writer.messages,
      ipv4Prefixes: this.ipv4 - oversized4,
      ipv6Prefixes: this.ipv6 - oversized6,
      attributeSets: written,
      oversized: oversized4 + oversized6,
    };
  }
}
