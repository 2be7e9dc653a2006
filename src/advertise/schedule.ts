// When best-path changes go out to each peer (RFC 4271 §9.2, §9.2.1.1): every batch the RIB
// reports is grouped once and exported to every Established peer at once, unless that peer's
// advertisement interval (MRAI) is running or its socket is not draining; then the changes
// are held, collapsed one per prefix, and sent when the interval ends or the socket drains.

import { CHANGE_WORDS, type BatchResult } from '../rib/apply.js';
import type { RibViews } from '../rib/memory.js';
import { AdjRibOut, type ExportCache, type ExportTarget } from './adjRibOut.js';
import { DeferredChanges, GroupedChanges, sortedChunks, tableSnapshot } from './changes.js';

/**
 * Output queued in user space beyond which a peer's UPDATEs are held (and collapsed, one per
 * prefix) until its socket drains, instead of buffering every change.
 */
export const OUTPUT_BACKLOG_BYTES = 8 << 20;

/**
 * What the advertiser needs of a session: the neighbor, seen from here (advertise/ does not
 * import neighbor/; the speaker hands its neighbors in).
 */
export interface OutputPeer {
  /** The session is Established (RFC 4271 §8): only then does anything go out. */
  readonly established: boolean;
  /** Octets queued in user space, not yet taken by the socket. */
  readonly outputBacklog: number;
  readonly config: { readonly advertisementInterval: number };
  sendEndOfRib(): void;
  once(event: 'drain', listener: () => void): unknown;
  /** An exception while advertising to it: its session alone is reset. */
  reportInternalError(err: unknown, where: string): void;
}

/** One neighbor's advertisement state. */
interface PeerOutput {
  /** Set while the session is Established. */
  out: AdjRibOut | null;
  /** Changes waiting for the advertisement interval or for the socket to drain (this session's). */
  deferred: DeferredChanges;
  /** The advertisement interval running, and whether we wait for the socket to drain. */
  mraiTimer: NodeJS.Timeout | null;
  waitingDrain: boolean;
}

export class Advertiser {
  private readonly peers = new Map<OutputPeer, PeerOutput>();
  private readonly grouped = new GroupedChanges();
  /**
   * Scratch for a whole table or a peer's held changes, kept and grown, so a session that
   * comes up (the table, as big as the RIB) or drains (its held changes) does not allocate an
   * array of that size each time; they go out sorted a chunk at a time (sortedChunks).
   */
  private taken: Uint32Array = new Uint32Array(0);
  private readonly chunkGroups = new GroupedChanges();

  /** `rib.views`: the shared RIB the export reads attribute sets and tables from. */
  constructor(private readonly rib: { readonly views: RibViews }) {}

  /** Neighbors are advertised to in the order they are added. */
  add(n: OutputPeer): void {
    this.peers.set(n, { out: null, deferred: new DeferredChanges(), mraiTimer: null, waitingDrain: false });
  }

  /** A session came up: the whole table as its export rules make it, then End-of-RIB (RFC 4724). */
  open(n: OutputPeer, target: ExportTarget): void {
    const p = this.peers.get(n)!;
    p.out = new AdjRibOut(this.rib.views, target);
    p.deferred = new DeferredChanges();
    this.sendTable(p.out, 'initial');
    n.sendEndOfRib();
  }

  /** The session went down: nothing more goes out until it is opened again. */
  close(n: OutputPeer): void {
    const p = this.peers.get(n);
    if (!p) return;
    p.out = null;
    p.deferred = new DeferredChanges();
    if (p.mraiTimer) clearTimeout(p.mraiTimer);
    p.mraiTimer = null;
  }

  /** The neighbor is gone for good (removed from the configuration). */
  remove(n: OutputPeer): void {
    this.close(n);
    this.peers.delete(n);
  }

  /**
   * New export rules for an Established peer (its export policy changed): changes held back
   * go out first under the old rules, then the whole table under the new ones, with a
   * withdrawal for every prefix the old rules sent and the new ones do not (soft reset out).
   */
  retarget(n: OutputPeer, target: ExportTarget): void {
    const p = this.peers.get(n);
    const before = p?.out;
    if (!p || !before) return;
    if (p.deferred.size) this.applySorted(before, p.deferred.take(this.room), 'changes');
    if (p.mraiTimer) clearTimeout(p.mraiTimer);
    p.mraiTimer = null;
    p.out = new AdjRibOut(this.rib.views, target);
    this.applySorted(p.out, this.snapshot(), 'initial', before);
  }

  /** ROUTE-REFRESH: one family's table again. */
  resend(n: OutputPeer, family: string): void {
    const out = this.peers.get(n)?.out;
    if (out) this.sendTable(out, 'resend', family === 'ipv6-unicast' ? 1 : 0);
  }

  /** Prefixes the neighbor currently holds from us. */
  advertised(n: OutputPeer): number {
    return this.peers.get(n)?.out?.advertised ?? 0;
  }

  /** The IPv6 share of `advertised(n)`. */
  advertised6(n: OutputPeer): number {
    return this.peers.get(n)?.out?.advertised6 ?? 0;
  }

  /** Stops every advertisement interval (shutdown). */
  stop(): void {
    for (const p of this.peers.values()) if (p.mraiTimer) clearTimeout(p.mraiTimer);
  }

  /** The whole table as this peer's export rules make it, from what the peers were last told. */
  private sendTable(out: AdjRibOut, mode: 'initial' | 'resend', family?: number): void {
    this.applySorted(out, this.snapshot(family), mode);
  }

  /** The table (of one family, or both) in the scratch; a larger scratch kept when it did not fit. */
  private snapshot(family?: number): Uint32Array {
    const all = tableSnapshot(this.rib.views, family, this.taken);
    if (all.buffer !== this.taken.buffer) this.taken = new Uint32Array(all.buffer);
    return all;
  }

  /** Changes to one Adj-RIB-Out in attribute order, a chunk at a time. */
  private applySorted(out: AdjRibOut, c: Uint32Array, mode: 'changes' | 'initial' | 'resend', previous?: AdjRibOut): void {
    const cache: ExportCache = new Map();
    sortedChunks(c, (chunk) => out.apply(this.chunkGroups.group(chunk), cache, mode, previous));
  }

  /** The scratch for `records` change records: grown to that when too small. */
  private readonly room = (records: number): Uint32Array => {
    if (this.taken.length < records * CHANGE_WORDS) this.taken = new Uint32Array(records * CHANGE_WORDS);
    return this.taken;
  };


  /** Hands one batch's best-path changes to every Adj-RIB-Out, grouped once for all. */
  distribute(result: BatchResult): void {
    if (!result.changes || result.changes.length < CHANGE_WORDS) return;
    const g = this.grouped.group(result.changes);
    const cache: ExportCache = new Map();
    for (const [n, p] of this.peers) {
      const out = p.out;
      if (!out || !n.established) continue;
      // Held back while an advertisement interval runs or the peer is not reading fast enough;
      // once something is held, later changes queue behind it to keep their order.
      try {
        if (p.deferred.size || p.mraiTimer || n.outputBacklog > OUTPUT_BACKLOG_BYTES) {
          p.deferred.add(result.changes);
          this.scheduleFlush(n, p);
        } else {
          out.apply(g, cache);
          if (n.config.advertisementInterval > 0) this.startMrai(n, p);
        }
      } catch (e) {
        n.reportInternalError(e, 'advertising'); // this peer's session only
      }
    }
  }

  /** RFC 4271 §9.2.1.1: at most one round of UPDATEs per advertisement interval. */
  private startMrai(n: OutputPeer, p: PeerOutput): void {
    p.mraiTimer = setTimeout(() => {
      p.mraiTimer = null;
      this.flushDeferred(n, p);
    }, n.config.advertisementInterval * 1000);
  }

  private scheduleFlush(n: OutputPeer, p: PeerOutput): void {
    if (p.mraiTimer || p.waitingDrain) return;
    if (n.outputBacklog > OUTPUT_BACKLOG_BYTES) {
      p.waitingDrain = true;
      n.once('drain', () => {
        p.waitingDrain = false;
        this.flushDeferred(n, p);
      });
    } else setImmediate(() => this.flushDeferred(n, p));
  }

  private flushDeferred(n: OutputPeer, p: PeerOutput): void {
    const out = p.out;
    if (!out || !n.established || !p.deferred.size) return;
    if (n.outputBacklog > OUTPUT_BACKLOG_BYTES) {
      this.scheduleFlush(n, p);
      return;
    }
    try {
      this.applySorted(out, p.deferred.take(this.room), 'changes');
      if (n.config.advertisementInterval > 0) this.startMrai(n, p);
    } catch (e) {
      n.reportInternalError(e, 'advertising held changes');
    }
  }
}
