// The BGP speaker: configuration wired into neighbors, the RIB pipeline and the advertisement;
// listening sockets; orderly shutdown.
//
// Data walks one way: neighbor → Ingest (./ingest.ts) → RibPipeline → best-path changes →
// Advertiser (../advertise/) → neighbor.sendUpdates. In collector mode (`[rib] mode`) it ends
// at the RIB: no best path, no advertiser. Per-neighbor RIB state (import stats,
// max-prefix, graceful-restart stale paths) is in ./peerState.ts.

import { EventEmitter } from 'node:events';
import net, { isIP } from 'node:net';
import { DEFAULT_RIB, type Config, type NeighborConfig, type RibConfig } from '../config/schema.js';
import { log } from '../log.js';
import { CeaseSubcode, ipv4ToNumber } from '../packet/index.js';
import { Neighbor, type MessageTap } from '../neighbor/neighbor.js';
import { State } from '../neighbor/fsm.js';
import { RibPipeline } from '../rib/pipeline.js';
import type { ImportStats } from '../rib/importStats.js';
import type { BatchResult } from '../rib/apply.js';
import { Advertiser } from '../advertise/schedule.js';
import { LineLimiter } from '../util/lineLimiter.js';
import { Ingest, workerFaultLine } from './ingest.js';
import { LocalRoutes } from './localRoutes.js';
import { blockLimit, PeerState } from './peerState.js';

/** "::ffff:127.0.0.3" and "127.0.0.3" are the same peer. */
export function canonicalAddress(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

/**
 * Without a local-address, connect from the one specific listen address of the peer's family:
 * on loopback the kernel would otherwise pick 127.0.0.1, an address the peer does not expect.
 */
function defaultLocalAddress(config: Config, peer: string): string | undefined {
  const family = isIP(peer);
  const mine = config.global.listen
    .map((l) => l.address)
    .filter((a) => isIP(a) === family && a !== '0.0.0.0' && a !== '::');
  return mine.length === 1 ? mine[0] : undefined;
}

export interface RouteCounts {
  received: { ipv4: number; ipv6: number };
  advertised: { ipv4: number; ipv6: number };
  stats: ImportStats;
}

export interface SpeakerOptions {
  /** false: no RIB, UPDATEs are framed and counted only (session tests). */
  rib?: boolean;
}

export interface SpeakerEvents {
  /** A batch of a neighbor's UPDATEs applied in the RIB, `seconds` after submission. */
  batch: [n: Neighbor, result: BatchResult, seconds: number];
  /** A neighbor added by a reload, before it starts. */
  neighborAdded: [n: Neighbor];
  /** A neighbor removed by a reload, as it stops. */
  neighborRemoved: [n: Neighbor];
}

/** Who sent a batch of route events (RibPipeline.tagUpdates): the neighbor and its session when the batch was applied. */
export interface UpdateSource {
  neighbor: Neighbor;
  session: Neighbor['session'];
}

export class Speaker extends EventEmitter<SpeakerEvents> {
  readonly neighbors = new Map<string, Neighbor>();
  readonly rib: RibPipeline | null;
  private readonly peers = new Map<Neighbor, PeerState>();
  private readonly advertiser: Advertiser | null = null;
  private readonly ingest: Ingest | null = null;
  /** Routes the operator originates (the API): the RIB's local peer; none in collector mode. */
  readonly local: LocalRoutes | null = null;
  /**
   * RIB peers that are not neighbors of ours (a NATS consumer's: another collector's peers),
   * by index: the name the API shows for their paths ("collector/address") and their AS.
   */
  readonly remotePeers = new Map<number, { name: string; asn: number }>();
  private readonly servers: net.Server[] = [];
  /** Connections from strangers: closed at once, logged at a bounded rate. */
  private readonly refusals = new LineLimiter(log);
  /** Who sees every message received (MRT update logs, BMP); the neighbors' taps are off without. */
  private readonly taps = new Set<MessageTap>();
  private readonly tapFailures = new LineLimiter(log);

  constructor(
    /** The running configuration; a reload (./reload.ts) replaces it. */
    public config: Config,
    opts: SpeakerOptions = {},
  ) {
    super();
    const ribConfig: RibConfig = config.rib ?? DEFAULT_RIB;
    const rib = (this.rib = opts.rib === false ? null : new RibPipeline({
      localAs: config.global.asn,
      routerId: ipv4ToNumber(config.global.routerId),
      workers: ribConfig.workers,
      alwaysCompareMed: ribConfig.alwaysCompareMed,
      collector: ribConfig.mode === 'collector',
      sizing: ribConfig,
      events: { deferMs: ribConfig.eventsMaxWaitMs, backlogBytes: ribConfig.eventsBacklogMb * (1 << 20) },
    }));
    if (rib) {
      // Collector mode: no decision process in the workers, no advertiser here; a peer gets its
      // session and End-of-RIB, nothing else (ingest.ts).
      const advertiser = (this.advertiser = rib.collector ? null : new Advertiser(rib));
      this.ingest = new Ingest(config, rib, this.peers, advertiser, (n, r, seconds) => this.emit('batch', n, r, seconds));
      if (advertiser) rib.on('changes', (result) => advertiser.distribute(result));
      rib.on('listenerError', (e) => log(`internal error handing on best-path changes: ${(e as Error)?.stack ?? String(e)}`));
      rib.on('workerFault', (f) => log(workerFaultLine(f, this.neighborAt(f.peer)?.name)));
      rib.on('attributeIndexGrown', (slots, sets, ms) => log(`RIB: attribute index doubled to ${slots} slots at ${sets} attribute sets (${ms.toFixed(0)} ms)`));
      // Route events may trail their batch: they carry the neighbor and session of then.
      rib.tagUpdates((index): UpdateSource | undefined => {
        const neighbor = this.neighborAt(index);
        return neighbor && { neighbor, session: neighbor.session };
      });
    }
    for (const n of config.neighbors) this.addNeighbor(n);
    if (rib && !rib.collector) {
      // Local routes come from a peer of our own AS that is not iBGP: every peer may be sent them.
      const routerId = ipv4ToNumber(config.global.routerId);
      this.local = new LocalRoutes(rib, rib.addPeer({ asn: config.global.asn, routerId, address: routerId, ibgp: false }));
    }
  }

  /** A configured neighbor: its session, RIB peer and advertisement; not started. */
  addNeighbor(n: NeighborConfig): Neighbor {
    const local = { asn: this.config.global.asn, routerId: this.config.global.routerId };
    const neighbor = new Neighbor(this.withLocalAddress(n), local);
    this.neighbors.set(n.address, neighbor);
    const rib = this.rib;
    if (rib && this.ingest) {
      neighbor.ingest = this.ingest;
      const index = rib.addPeer({ asn: n.remoteAs, routerId: 0, address: isIP(n.address) === 4 ? ipv4ToNumber(n.address) : 0, ibgp: n.remoteAs === (n.localAs ?? this.config.global.asn), limit: blockLimit(n) });
      this.peers.set(neighbor, new PeerState(neighbor, rib, index));
      this.advertiser?.add(neighbor);
    }
    if (this.taps.size) this.setTaps();
    this.emit('neighborAdded', neighbor);
    return neighbor;
  }

  /**
   * A neighbor taken out of the configuration: Cease / Peer De-configured (RFC 4486), its
   * paths flushed from the RIB, its RIB peer index freed, gone from every view. Resolves once
   * its paths are gone.
   */
  async removeNeighbor(n: Neighbor, graceMs = 2000): Promise<void> {
    this.neighbors.delete(n.config.address);
    this.emit('neighborRemoved', n);
    n.stop(undefined, CeaseSubcode.PeerDeconfigured);
    const deadline = Date.now() + graceMs;
    await new Promise((r) => setTimeout(r, 100)); // the NOTIFICATION on the wire first
    while (Date.now() < deadline && n.state !== State.Idle) await new Promise((r) => setTimeout(r, 20));
    n.destroy();
    const p = this.peers.get(n);
    if (!p || !this.rib) return;
    p.stop();
    this.peers.delete(n);
    this.advertiser?.remove(n);
    await this.rib.releasePeer(p.index);
  }

  /** A neighbor's new configuration (a reload), from its next connection on; see Session.reconfigure. */
  reconfigureNeighbor(n: Neighbor, c: NeighborConfig): void {
    n.reconfigure(this.withLocalAddress(c));
  }

  /** Soft reset out after a neighbor's export rules changed; false when its session is not up. */
  resendExport(n: Neighbor): boolean {
    return this.ingest?.exportChanged(n) ?? false;
  }

  /** A neighbor's max-prefix settings changed: applied to its RIB peer in place. */
  maxPrefixChanged(n: Neighbor): void {
    this.peers.get(n)?.limitChanged();
  }

  private withLocalAddress(n: NeighborConfig): NeighborConfig {
    return { ...n, localAddress: n.localAddress ?? defaultLocalAddress(this.config, n.address) };
  }

  /** Listens on every configured address, then starts every neighbor. */
  async start(): Promise<void> {
    for (const { address, port } of this.config.global.listen) {
      // Accepted sockets stay paused until the neighbor moves them onto its receive ring.
      const server = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: address, port }, () => {
          server.off('error', reject);
          resolve();
        });
      }).catch((e: NodeJS.ErrnoException) => {
        throw new Error(`cannot listen on ${address} port ${port}: ${e.code ?? e.message}`);
      });
      server.on('error', (e) => log(`listener ${address}:${port}: ${e.message}`));
      this.servers.push(server);
      log(`listening on ${address} port ${port}`);
    }
    for (const n of this.neighbors.values()) n.start();
  }

  private accept(socket: net.Socket): void {
    socket.on('error', () => {});
    const from = canonicalAddress(socket.remoteAddress);
    const n = this.neighbors.get(from);
    if (!n) {
      this.refusals.line(`connection from ${from} refused: not a configured neighbor`);
      socket.destroy();
      return;
    }
    n.incoming(socket);
  }

  /**
   * `tap` sees every message each neighbor receives, in order, before it is handled (see
   * MessageTap). Returns what removes it again. Costs nothing while no tap is set.
   */
  tapMessages(tap: MessageTap): () => void {
    this.taps.add(tap);
    this.setTaps();
    return () => {
      this.taps.delete(tap);
      this.setTaps();
    };
  }

  private setTaps(): void {
    const taps = [...this.taps];
    // A tap's own failure is its own: logged, never a reset of the session it watches.
    const fanOut: MessageTap | null = taps.length === 0 ? null : (n, msg) => {
      for (const t of taps) {
        try {
          t(n, msg);
        } catch (e) {
          this.tapFailures.line(`internal error in a message tap: ${(e as Error)?.stack ?? String(e)}`);
        }
      }
    };
    for (const n of this.neighbors.values()) n.messageTap = fanOut;
  }

  /** What a neighbor's UPDATEs came to: RFC 7606 outcomes and filtered announcements. */
  importStats(n: Neighbor): ImportStats | undefined {
    return this.peers.get(n)?.stats;
  }

  /** A neighbor's routes per family: held from it, advertised to it, and its import counters. */
  routeCounts(n: Neighbor): RouteCounts | undefined {
    const p = this.peers.get(n);
    if (!p) return undefined;
    const out4 = this.advertiser?.advertised(n) ?? 0;
    const out6 = this.advertiser?.advertised6(n) ?? 0;
    return { received: { ipv4: p.paths4, ipv6: p.paths6 }, advertised: { ipv4: out4 - out6, ipv6: out6 }, stats: p.stats };
  }

  /** The neighbor's peer index in the RIB (what stored paths carry), and back. */
  peerIndex(n: Neighbor): number | undefined {
    return this.peers.get(n)?.index;
  }

  neighborAt(index: number): Neighbor | undefined {
    for (const [n, p] of this.peers) if (p.index === index) return n;
    return undefined;
  }

  /** Adj-RIB-In paths held for a neighbor. */
  receivedPaths(n: Neighbor): number {
    return this.peers.get(n)?.paths ?? 0;
  }

  /** Prefixes a neighbor currently holds from us. */
  advertisedPrefixes(n: Neighbor): number {
    return this.advertiser?.advertised(n) ?? 0;
  }

  /**
   * Cease / Administrative Shutdown with `text` to every peer (RFC 8203/9003), then closes
   * the listeners and the RIB. Resolves once every session has gone or after `graceMs`.
   */
  async shutdown(text: string, graceMs = 2000): Promise<void> {
    for (const s of this.servers) s.close();
    for (const p of this.peers.values()) p.stop();
    this.advertiser?.stop();
    for (const n of this.neighbors.values()) n.stop(text);
    const deadline = Date.now() + graceMs;
    // Give the NOTIFICATIONs a moment on the wire before the sockets go.
    await new Promise((r) => setTimeout(r, 100));
    while (Date.now() < deadline && [...this.neighbors.values()].some((n) => n.state !== State.Idle)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const n of this.neighbors.values()) n.destroy();
    await this.rib?.close();
  }
}
