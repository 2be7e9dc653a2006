// What one station is sent, connection by connection (RFC 7854 §5): Initiation, a Peer Up for
// every Established neighbor (and for the Loc-RIB instance, RFC 9069), the table of each from
// the RIB, End-of-RIB per family, then live Route Monitoring; Peer Up and Peer Down as
// sessions come and go; Statistics Reports on a timer. A neighbor's live UPDATEs that arrive
// while its table is being walked wait in a queue and follow the table: announcements and
// withdrawals replayed after a read of the same prefix leave the station where the RIB is.

import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Neighbor } from '../neighbor/neighbor.js';
import { IPV6, type Family } from '../rib/memory.js';
import { pathsAt, prefixBytesAt, walkPrefixes } from '../rib/query.js';
import { attributeBytes } from '../rib/attrs.js';
import { C_ATTR, C_KEY, C_LEN, CHANGE_WORDS } from '../rib/result.js';
import type { BatchResult } from '../rib/apply.js';
import { log } from '../log.js';
import { PeerDownReason, PeerFlag, PeerType, StatType } from './constants.js';
import { initiation, peerDown, peerUp, perPeerHeader, routeMonitoring, statisticsReport, type Stat } from './message.js';
import { announcements, endOfRib, nlri, withdrawals } from './updates.js';
import type { FeedSource } from './source.js';
import type { Station } from './station.js';

/** A monitored table on this connection: a neighbor's Adj-RIB-In, or the Loc-RIB. */
interface Table {
  /** The per-peer header its messages carry (timestamp written per message). */
  header: Buffer;
  /** 'syncing': its table is being walked and live messages wait in `pending`. */
  state: 'syncing' | 'live';
  pending: Uint8Array[];
  families: string[];
  /** RFC 7911: families whose NLRI carry path identifiers. */
  addPath: Set<string>;
  asn4: boolean;
  /** The neighbor's index in the RIB; -1 for the Loc-RIB. */
  index: number;
}

export interface FeedOptions {
  prePolicy: boolean;
  locRib: boolean;
  /** Seconds between Statistics Reports; 0: none. */
  statisticsInterval: number;
}

const familyOf = (f: Family) => (f.id === IPV6 ? 'ipv6-unicast' : 'ipv4-unicast');

export class Feed {
  private readonly peers = new Map<Neighbor, Table>();
  private locRib: Table | null = null;
  private statsTimer: NodeJS.Timeout | null = null;
  /** Which connection this is: a walk of an earlier one stops. */
  private generation = 0;

  constructor(
    readonly station: Station,
    private readonly src: FeedSource,
    private readonly opts: FeedOptions,
  ) {}

  /** Anything to send right now (the tap is only set while some feed wants messages). */
  get wantsMessages(): boolean {
    return this.station.state === 'up' && this.opts.prePolicy;
  }

  /** The station connected: Initiation, Peer Ups, then the tables. */
  connected(): void {
    const gen = ++this.generation;
    this.peers.clear();
    this.locRib = null;
    this.queued = 0;
    if (!this.send(initiation(this.src.sysName, this.src.sysDescr))) return;
    const syncing: Table[] = [];
    if (this.opts.prePolicy) {
      for (const n of this.src.established()) {
        const t = this.up(n, 'syncing');
        if (t) syncing.push(t);
      }
    }
    if (this.opts.locRib) {
      this.locRib = this.locRibUp();
      if (this.locRib) syncing.push(this.locRib);
    }
    if (this.opts.statisticsInterval > 0) {
      this.statsTimer = setInterval(() => this.statistics(), this.opts.statisticsInterval * 1000);
      this.statsTimer.unref();
    }
    if (syncing.length) {
      this.sync(gen, syncing).catch((e) => log(`${this.station.name}: internal error sending the table: ${(e as Error)?.stack ?? String(e)}`));
    }
  }

  /** The connection is gone: nothing is kept for it. */
  disconnected(): void {
    this.generation++;
    this.peers.clear();
    this.locRib = null;
    this.queued = 0;
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = null;
  }

  private send(msg: Uint8Array): boolean {
    return this.station.send(msg);
  }

  /** Peer Up (RFC 7854 §4.10) for a neighbor that is Established; its table entry. */
  private up(n: Neighbor, state: Table['state']): Table | null {
    const s = n.session;
    const index = this.src.peerIndex(n);
    const receivedOpen = n.peerOpenBytes;
    if (!s || index === undefined || !receivedOpen) return null;
    const header = perPeerHeader({ type: PeerType.Global, flags: s.asn4 ? 0 : PeerFlag.A, address: n.config.address, asn: s.peerAs, bgpId: s.peerId });
    const ports = n.ports ?? { local: 0, remote: 0 };
    const msg = peerUp(header, Date.now(), { localAddress: n.localAddress, localPort: ports.local, remotePort: ports.remote, sentOpen: n.localOpenBytes, receivedOpen });
    const t: Table = { header, state, pending: [], families: s.families, addPath: new Set(s.addPathReceive), asn4: s.asn4, index };
    this.peers.set(n, t);
    return this.send(msg) ? t : null;
  }

  /** RFC 9069 §5: the Loc-RIB instance's Peer Up, with a fabricated OPEN sent as both. */
  private locRibUp(): Table | null {
    const header = perPeerHeader({ type: PeerType.LocRib, flags: 0, address: '', asn: this.src.localAs, bgpId: this.src.routerId });
    const open = this.src.locRibOpen;
    const msg = peerUp(header, Date.now(), { localPort: 0, remotePort: 0, sentOpen: open, receivedOpen: open, tableName: 'global' });
    const t: Table = { header, state: 'syncing', pending: [], families: ['ipv4-unicast', 'ipv6-unicast'], addPath: new Set(), asn4: true, index: -1 };
    return this.send(msg) ? t : null;
  }

  /** A neighbor came up while the station is connected: Peer Up, then its UPDATEs as they come. */
  established(n: Neighbor): void {
    if (this.station.state !== 'up' || !this.opts.prePolicy) return;
    this.up(n, 'live');
  }

  /** A monitored neighbor's session went down (RFC 7854 §4.9). */
  down(n: Neighbor, reason: PeerDownReason, data?: Uint8Array): void {
    const t = this.peers.get(n);
    if (!t) return;
    this.peers.delete(n);
    this.queued -= t.pending.reduce((sum, m) => sum + m.length, 0);
    t.pending = [];
    this.send(peerDown(t.header, Date.now(), reason, data));
  }

  /** A message a neighbor received (the speaker's tap): UPDATEs are sent on, or wait for the table. */
  message(n: Neighbor, msg: Uint8Array): void {
    const t = this.peers.get(n);
    if (!t || msg[18] !== 2) return;
    const rm = routeMonitoring(t.header, msg, Date.now());
    if (t.state === 'live') this.send(rm);
    else this.queue(t, rm);
  }

  /** Waits behind the table; the queue counts against the same buffer as the socket. */
  private queue(t: Table, msg: Uint8Array): void {
    t.pending.push(msg);
    this.queued += msg.length;
    // Past the buffer the message is dropped and counted, and the connection closed (station.ts).
    if (this.queued + this.station.backlog > this.station.bufferBytes) this.station.overflow(msg.length, this.queued);
  }

  /** Octets of live messages waiting behind table walks. */
  private queued = 0;

  /** Best-path changes (RFC 9069): the Loc-RIB's UPDATEs, built now while the attribute ids hold. */
  changes(result: BatchResult): void {
    const t = this.locRib;
    if (!t) return;
    const c = result.changes;
    const v = this.src.views;
    const now = Date.now();
    for (let i = 0; i < c.length; ) {
      const attr = c[i + C_ATTR];
      const v6 = c[i + C_LEN] >>> 8 === IPV6;
      const group: Uint8Array[] = [];
      const net = new Uint8Array(16);
      for (; i < c.length && c[i + C_ATTR] === attr && c[i + C_LEN] >>> 8 === (v6 ? IPV6 : 0); i += CHANGE_WORDS) {
        const view = new DataView(net.buffer);
        for (let w = 0; w < 4; w++) view.setUint32(w * 4, c[i + C_KEY + w]);
        group.push(nlri(net, c[i + C_LEN] & 0xff, null));
      }
      const updates = attr === 0 ? withdrawals(v6, group) : announcements(attributeBytes(v, attr), v6, group, { asn4: true });
      for (const u of updates) {
        const rm = routeMonitoring(t.header, u, now);
        if (t.state === 'live') {
          if (!this.send(rm)) return;
        } else this.queue(t, rm);
      }
    }
  }

  /**
   * The tables of `tables` from the RIB, then what waited meanwhile, then End-of-RIB per
   * family. First every batch submitted so far is applied, so the walk sees every UPDATE the
   * tap showed before the Peer Up.
   */
  private async sync(gen: number, tables: Table[]): Promise<void> {
    await this.src.applied();
    const current = () => gen === this.generation && this.station.state === 'up';
    if (!current()) return;
    const byIndex = new Map<number, Table>();
    for (const t of tables) if (t.index >= 0) byIndex.set(t.index, t);
    const loc = tables.find((t) => t.index === -1) ?? null;
    const v = this.src.views;
    /** Per table, per attribute set and family, the NLRI of this chunk. */
    let groups = new Map<Table, Map<number, Uint8Array[]>>();
    const add = (t: Table, key: number, n: Uint8Array) => {
      let g = groups.get(t);
      if (!g) groups.set(t, (g = new Map()));
      let list = g.get(key);
      if (!list) g.set(key, (list = []));
      list.push(n);
    };
    const net = new Uint8Array(16);
    const visit = (f: Family, shard: number, slot: number): boolean => {
      const length = prefixBytesAt(f, shard, slot, net);
      const v6 = f.id === IPV6;
      let any = false;
      for (const p of pathsAt(v, f, shard, slot)) {
        const t = byIndex.get(p.peer);
        if (t && t.state === 'syncing') {
          add(t, p.attr * 2 + (v6 ? 1 : 0), nlri(net, length, t.addPath.has(familyOf(f)) ? p.pathId : null));
          any = true;
        }
        if (loc && p.best) {
          add(loc, p.attr * 2 + (v6 ? 1 : 0), nlri(net, length, null));
          any = true;
        }
      }
      return any;
    };
    const flush = (): boolean => {
      const now = Date.now();
      for (const [t, g] of groups) {
        if (t.state !== 'syncing' || (t !== loc && !this.isCurrent(t))) continue;
        for (const [key, list] of g) {
          for (const u of announcements(attributeBytes(v, key >>> 1), (key & 1) === 1, list, { asn4: t.asn4 })) {
            if (!this.send(routeMonitoring(t.header, u, now))) return false;
          }
        }
      }
      groups = new Map();
      return true;
    };
    const pause = async (): Promise<boolean> => {
      if (!flush() || !current()) return false;
      if (!(await this.station.writable())) return false;
      await yieldToLoop();
      return current();
    };
    if (!(await walkPrefixes(v.families, visit, pause)) || !flush() || !current()) return;
    for (const t of tables) {
      if (t.state !== 'syncing' || (t !== loc && !this.isCurrent(t))) continue;
      for (const m of t.pending) if (!this.send(m)) return;
      this.queued -= t.pending.reduce((s, m) => s + m.length, 0);
      t.pending = [];
      const now = Date.now();
      for (const f of t.families) if (!this.send(routeMonitoring(t.header, endOfRib(f), now))) return;
      t.state = 'live';
    }
  }

  /** `t` is still the table of a monitored neighbor (not one whose session went down meanwhile). */
  private isCurrent(t: Table): boolean {
    for (const x of this.peers.values()) if (x === t) return true;
    return false;
  }

  /** Statistics Report (RFC 7854 §4.8) for each monitored neighbor. */
  statistics(): void {
    if (this.station.state !== 'up') return;
    const now = Date.now();
    for (const [n, t] of this.peers) {
      const counts = this.src.routeCounts(n);
      if (!counts) continue;
      const { received, stats } = counts;
      const s4 = stats.ipv4Unicast;
      const s6 = stats.ipv6Unicast;
      const list: Stat[] = [
        { type: StatType.RejectedByPolicy, counter: s4.filtered + s6.filtered },
        { type: StatType.UpdatesTreatAsWithdraw, counter: s4.treatAsWithdraw + s6.treatAsWithdraw },
        { type: StatType.PrefixesTreatAsWithdraw, counter: s4.prefixesTreatAsWithdraw + s6.prefixesTreatAsWithdraw },
        { type: StatType.AdjRibInRoutes, gauge: received.ipv4 + received.ipv6 },
      ];
      if (t.families.includes('ipv4-unicast')) list.push({ type: StatType.AdjRibInRoutesPerFamily, afi: 1, safi: 1, gauge: received.ipv4 });
      if (t.families.includes('ipv6-unicast')) list.push({ type: StatType.AdjRibInRoutesPerFamily, afi: 2, safi: 1, gauge: received.ipv6 });
      if (!this.send(statisticsReport(t.header, now, list))) return;
    }
  }
}
