// The BGP speaker: listening sockets, the configured neighbors, the RIB pipeline between them,
// and orderly shutdown.

import { EventEmitter } from 'node:events';
import net, { isIP } from 'node:net';
import { DEFAULT_RIB, type Config, type NeighborConfig, type RibConfig } from './config/schema.js';
import { log } from './log.js';
import type { Policy } from './policy/policy.js';
import { CeaseSubcode, ipv4ToNumber, ipv6ToBytes, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH } from './packet/index.js';
import { Neighbor, type UpdateIngest } from './neighbor/neighbor.js';
import { Event, State } from './neighbor/fsm.js';
import { CHANGE_WORDS, sortByAttribute, type BatchResult, type PeerContext } from './rib/apply.js';
import { AdjRibOut, GroupedChanges, tableSnapshot, type ExportCache } from './rib/adjRibOut.js';
import { RibPipeline } from './rib/pipeline.js';
import { countBatch, newImportStats, ProblemLog, type ImportStats } from './rib/importStats.js';
import { otcEgress, otcIngress } from './policy/otc.js';

/**
 * Our IPv6 next hop: the configured one, the session's own IPv6 address, or over an IPv4
 * session the IPv4-mapped form of our IPv4 address.
 */
function nextHopV6(addr: string | undefined): Uint8Array {
  if (!addr) return new Uint8Array(16);
  return ipv6ToBytes(isIP(addr) === 6 ? addr : `::ffff:${addr}`);
}

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

const ACCEPT_ALL: Policy = { default: 'accept', rules: [] };

/** A max-prefix block's limit, enforced by the workers; 0 for the other actions. */
function blockLimit(n: NeighborConfig): number {
  return n.maxPrefix?.action === 'block' ? n.maxPrefix.limit : 0;
}

/**
 * Output queued in user space beyond which a peer's UPDATEs are held (and collapsed, one per
 * prefix) until its socket drains, instead of buffering every change.
 */
const OUTPUT_BACKLOG_BYTES = 8 << 20;

/** How long a restarted peer's stale paths wait for its End-of-RIB (FRR's stalepath-time). */
const STALE_PATH_TIME_S = 360;

export interface SpeakerOptions {
  /** false: no RIB, UPDATEs are framed and counted only (session tests). */
  rib?: boolean;
}

/** Per-neighbor RIB state kept by the speaker. */
interface PeerRib {
  index: number;
  /** RFC 7606 outcomes and filtered announcements, per family. */
  stats: ImportStats;
  problems: ProblemLog;
  adjRibOut: AdjRibOut | null;
  /** Paths in this peer's Adj-RIB-In. */
  paths: number;
  maxPrefixWarned: boolean;
  /** max-prefix reached (and logged) since the session came up. */
  maxPrefixReached: boolean;
  /** Graceful restart: families whose End-of-RIB ends the stale period, and its deadline. */
  staleFamilies: Set<string> | null;
  staleTimer: NodeJS.Timeout | null;
  /** The advertisement interval running, and whether we wait for the socket to drain. */
  mraiTimer: NodeJS.Timeout | null;
  waitingDrain: boolean;
}

export class Speaker extends EventEmitter implements UpdateIngest {
  readonly neighbors = new Map<string, Neighbor>();
  readonly rib: RibPipeline | null;
  private readonly peerRib = new Map<Neighbor, PeerRib>();
  private readonly servers: net.Server[] = [];
  private readonly rfc8212Logged = new Set<Neighbor>();

  constructor(
    readonly config: Config,
    opts: SpeakerOptions = {},
  ) {
    super();
    const local = { asn: config.global.asn, routerId: config.global.routerId };
    const ribConfig: RibConfig = config.rib ?? DEFAULT_RIB;
    this.rib = opts.rib === false ? null : new RibPipeline({
      localAs: config.global.asn,
      routerId: ipv4ToNumber(config.global.routerId),
      workers: ribConfig.workers,
      alwaysCompareMed: ribConfig.alwaysCompareMed,
      sizing: ribConfig,
    });
    this.rib?.on('changes', (result) => this.distribute(result));
    this.rib?.on('listenerError', (e) => log(`internal error handing on best-path changes: ${(e as Error)?.stack ?? String(e)}`));
    for (const n of config.neighbors) {
      const localAddress = n.localAddress ?? defaultLocalAddress(config, n.address);
      const neighbor = new Neighbor({ ...n, localAddress }, local);
      this.neighbors.set(n.address, neighbor);
      if (this.rib) {
        neighbor.ingest = this;
        const index = this.rib.addPeer({ asn: n.remoteAs, routerId: 0, address: isIP(n.address) === 4 ? ipv4ToNumber(n.address) : 0, ibgp: n.remoteAs === (n.localAs ?? config.global.asn), limit: blockLimit(n) });
        this.peerRib.set(neighbor, { index, stats: newImportStats(), problems: new ProblemLog(log), adjRibOut: null, paths: 0, maxPrefixWarned: false, maxPrefixReached: false, staleFamilies: null, staleTimer: null, mraiTimer: null, waitingDrain: false });
        neighbor.on('endOfRib', (family) => this.onEndOfRib(neighbor, family));
      }
    }
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
      log(`connection from ${from} refused: not a configured neighbor`);
      socket.destroy();
      return;
    }
    n.incoming(socket);
  }

  // ---- UpdateIngest: the neighbors' side of the RIB -----------------------------------------

  /**
   * The neighbor's policy for one direction, or null when nothing passes: a plain "reject",
   * or RFC 8212's default on an eBGP session without a policy (logged once, as FRR does).
   */
  private policy(n: Neighbor, which: 'importPolicy' | 'exportPolicy'): Policy | null {
    const c: NeighborConfig = n.config;
    const set = c[which];
    if (set) return set.default === 'reject' && set.rules.length === 0 ? null : set;
    const ebgp = n.session?.ebgp ?? c.remoteAs !== (c.localAs ?? this.config.global.asn);
    if (ebgp && !this.rfc8212Logged.has(n)) {
      this.rfc8212Logged.add(n);
      log(`${n.name}: no import-policy/export-policy set: routes are neither accepted nor advertised on this eBGP session (RFC 8212); set them to "accept" to open it`);
    }
    return ebgp ? null : ACCEPT_ALL;
  }

  /**
   * Every UPDATE goes to the workers and is checked there (RFC 4271 §6.3, RFC 7606) before the
   * import policy, RFC 8212 or a max-prefix block decide what is kept: a malformed message gets
   * the same answer whatever they say.
   */
  submit(n: Neighbor, buffer: SharedArrayBuffer, descriptors: Uint32Array): Promise<BatchResult | Record<string, never>> {
    const pr = this.peerRib.get(n)!;
    if (!this.rib) return Promise.resolve({});
    const policy = this.policy(n, 'importPolicy');
    const s = n.session!;
    const ctx: PeerContext = {
      asn4: s.asn4,
      ebgp: s.ebgp,
      addPath: s.addPathReceive.includes('ipv4-unicast'),
      addPath6: s.addPathReceive.includes('ipv6-unicast'),
      import: policy ? 'accept' : 'deny',
      // A policy without rules that accepts changes nothing: no work in the workers for it.
      policy: policy?.rules.length ? this.rib.policyRef(policy) : undefined,
      otc: s.ebgp ? otcIngress(n.config.role, s.peerAs) : undefined,
    };
    return this.rib.submitUpdates(pr.index, ctx, buffer, descriptors).then((r) => {
      pr.paths += r.pathDelta;
      countBatch(pr.stats, r);
      pr.problems.report(n.name, r);
      if (!r.error) this.checkMaxPrefix(n, pr);
      return r;
    });
  }

  sessionUp(n: Neighbor): void {
    const pr = this.peerRib.get(n)!;
    // Back before the restart time ran out: stale paths now wait for End-of-RIB, but not forever.
    if (pr.staleFamilies) this.staleTimer(n, pr, STALE_PATH_TIME_S);
    const s = n.session!;
    this.rib!.setPeer(pr.index, {
      asn: s.peerAs,
      routerId: ipv4ToNumber(s.peerId),
      address: isIP(n.config.address) === 4 ? ipv4ToNumber(n.config.address) : 0,
      ibgp: !s.ebgp,
      rrClient: n.config.routeReflectorClient,
      allowasIn: n.config.allowasIn,
      limit: blockLimit(n.config),
    });
    const local = n.localAddress;
    const otc = otcEgress(n.config.role);
    pr.adjRibOut = new AdjRibOut(this.rib!.views, {
      peer: pr.index,
      localAs: n.config.localAs ?? this.config.global.asn,
      routerId: ipv4ToNumber(this.config.global.routerId),
      ibgp: !s.ebgp,
      nextHop: local && isIP(local) === 4 ? ipv4ToNumber(local) : 0,
      nextHop6: nextHopV6(n.config.nextHop6 ?? local),
      families: [s.families.includes('ipv4-unicast'), s.families.includes('ipv6-unicast')],
      addPathSend: [s.addPathSend.includes('ipv4-unicast'), s.addPathSend.includes('ipv6-unicast')],
      maxMessageLength: s.extendedMessage ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH,
      asn4: s.asn4,
      rrClient: n.config.routeReflectorClient,
      routeServerClient: n.config.routeServerClient,
      exportAllowed: this.policy(n, 'exportPolicy') !== null,
      exportPolicy: this.policy(n, 'exportPolicy') ?? undefined,
      otcBlock: !!(s.ebgp && otc?.block),
      addOtc: s.ebgp && otc?.mark ? (n.config.localAs ?? this.config.global.asn) : undefined,
      send: (bytes, count) => n.sendUpdates(bytes, count),
    });
    this.sendTable(pr.adjRibOut, 'initial');
    n.sendEndOfRib();
  }

  /** The whole table as this peer's export rules make it, from what the peers were last told. */
  private sendTable(out: AdjRibOut, mode: 'initial' | 'resend', family?: number): void {
    const all = tableSnapshot(this.rib!.views, family);
    out.apply(new GroupedChanges().group(sortByAttribute(all)), new Map(), mode);
  }

  resend(n: Neighbor, family: string): void {
    const out = this.peerRib.get(n)?.adjRibOut;
    if (out) this.sendTable(out, 'resend', family === 'ipv6-unicast' ? 1 : 0);
  }

  sessionDown(n: Neighbor, event: Event): void {
    const pr = this.peerRib.get(n)!;
    pr.adjRibOut = null;
    if (pr.mraiTimer) clearTimeout(pr.mraiTimer);
    pr.mraiTimer = null;
    pr.maxPrefixReached = false;
    pr.maxPrefixWarned = false;
    const gr = n.session?.peerGracefulRestart;
    // RFC 4724 §4.2: a session lost without a NOTIFICATION from a restarting-capable peer
    // keeps its paths, marked stale, for the restart time it announced.
    if (gr && gr.restartTime > 0 && n.config.gracefulRestart.enabled && event === Event.TcpConnectionFails) {
      log(`${n.name}: graceful restart: keeping its paths as stale for up to ${gr.restartTime}s`);
      pr.staleFamilies = new Set(n.session!.families);
      this.staleTimer(n, pr, gr.restartTime);
      void this.rib!.markStale(pr.index);
      return;
    }
    this.endStale(pr);
    pr.paths = 0;
    void this.rib!.flushPeer(pr.index);
  }

  private staleTimer(n: Neighbor, pr: PeerRib, seconds: number): void {
    if (pr.staleTimer) clearTimeout(pr.staleTimer);
    pr.staleTimer = setTimeout(() => {
      log(`${n.name}: graceful restart: stale paths removed after ${seconds}s`);
      this.sweep(pr);
    }, seconds * 1000);
  }

  private endStale(pr: PeerRib): void {
    if (pr.staleTimer) clearTimeout(pr.staleTimer);
    pr.staleTimer = null;
    pr.staleFamilies = null;
  }

  private sweep(pr: PeerRib): void {
    this.endStale(pr);
    void this.rib!.sweepStale(pr.index);
  }

  /** End-of-RIB from a restarted peer, for every family it had: its stale paths go. */
  private onEndOfRib(n: Neighbor, family: string): void {
    const pr = this.peerRib.get(n);
    if (!pr?.staleFamilies) return;
    pr.staleFamilies.delete(family);
    if (pr.staleFamilies.size === 0) {
      log(`${n.name}: graceful restart: End-of-RIB received, stale paths removed`);
      this.sweep(pr);
    }
  }

  private readonly grouped = new GroupedChanges();

  /** Hands one batch's best-path changes to every Adj-RIB-Out, grouped once for all. */
  private distribute(result: BatchResult): void {
    if (!result.changes || result.changes.length < CHANGE_WORDS) return;
    const g = this.grouped.group(result.changes);
    const cache: ExportCache = new Map();
    for (const [n, pr] of this.peerRib) {
      const out = pr.adjRibOut;
      if (!out || n.state !== State.Established) continue;
      // Held back while an advertisement interval runs or the peer is not reading fast enough;
      // once something is held, later changes queue behind it to keep their order.
      try {
        if (out.deferred.size || pr.mraiTimer || n.outputBacklog > OUTPUT_BACKLOG_BYTES) {
          out.deferred.add(result.changes);
          this.scheduleFlush(n, pr);
        } else {
          out.apply(g, cache);
          if (n.config.advertisementInterval > 0) this.startMrai(n, pr);
        }
      } catch (e) {
        n.reportInternalError(e, 'advertising'); // this peer's session only
      }
    }
  }

  /** RFC 4271 §9.2.1.1: at most one round of UPDATEs per advertisement interval. */
  private startMrai(n: Neighbor, pr: PeerRib): void {
    pr.mraiTimer = setTimeout(() => {
      pr.mraiTimer = null;
      this.flushDeferred(n, pr);
    }, n.config.advertisementInterval * 1000);
  }

  private scheduleFlush(n: Neighbor, pr: PeerRib): void {
    if (pr.mraiTimer || pr.waitingDrain) return;
    if (n.outputBacklog > OUTPUT_BACKLOG_BYTES) {
      pr.waitingDrain = true;
      n.once('drain', () => {
        pr.waitingDrain = false;
        this.flushDeferred(n, pr);
      });
    } else setImmediate(() => this.flushDeferred(n, pr));
  }

  private flushDeferred(n: Neighbor, pr: PeerRib): void {
    const out = pr.adjRibOut;
    if (!out || n.state !== State.Established || !out.deferred.size) return;
    if (n.outputBacklog > OUTPUT_BACKLOG_BYTES) {
      this.scheduleFlush(n, pr);
      return;
    }
    try {
      const changes = sortByAttribute(out.deferred.take());
      out.apply(new GroupedChanges().group(changes), new Map());
      if (n.config.advertisementInterval > 0) this.startMrai(n, pr);
    } catch (e) {
      n.reportInternalError(e, 'advertising held changes');
    }
  }

  /** What a neighbor's UPDATEs came to: RFC 7606 outcomes and filtered announcements. */
  importStats(n: Neighbor): ImportStats | undefined {
    return this.peerRib.get(n)?.stats;
  }

  /** Adj-RIB-In paths held for a neighbor. */
  receivedPaths(n: Neighbor): number {
    return this.peerRib.get(n)?.paths ?? 0;
  }

  advertisedPrefixes(n: Neighbor): number {
    return this.peerRib.get(n)?.adjRibOut?.advertised ?? 0;
  }

  private checkMaxPrefix(n: Neighbor, pr: PeerRib): void {
    const mp = n.config.maxPrefix;
    if (!mp) return;
    if (!pr.maxPrefixWarned && pr.paths * 100 >= mp.limit * mp.warnPct) {
      pr.maxPrefixWarned = true;
      log(`${n.name}: ${pr.paths} prefixes, ${mp.warnPct}% of max-prefix ${mp.limit}`);
    }
    if (mp.action === 'block') {
      // The workers admit no path beyond the limit (exactly, across batches): say so once.
      if (pr.paths >= mp.limit && !pr.maxPrefixReached) log(`${n.name}: max-prefix ${mp.limit} reached: further routes from it are ignored`);
      pr.maxPrefixReached ||= pr.paths >= mp.limit;
      return;
    }
    if (pr.paths <= mp.limit) return;
    switch (mp.action) {
      case 'warn':
        if (!pr.maxPrefixReached) log(`${n.name}: max-prefix ${mp.limit} exceeded (${pr.paths}): warning only, routes kept`);
        pr.maxPrefixReached = true;
        return;
      case 'restart':
      case 'disable':
        log(`${n.name}: max-prefix ${mp.limit} exceeded (${pr.paths}): ${mp.action === 'restart' ? `restart in ${mp.restartAfter}s` : 'disabled'}`);
        // RFC 4486: Cease / Maximum Number of Prefixes Reached.
        n.automaticStop(CeaseSubcode.MaximumPrefixesReached, undefined, mp.action === 'restart' ? mp.restartAfter : null);
    }
  }

  /**
   * Cease / Administrative Shutdown with `text` to every peer (RFC 8203/9003), then closes
   * the listeners and the RIB. Resolves once every session has gone or after `graceMs`.
   */
  async shutdown(text: string, graceMs = 2000): Promise<void> {
    for (const s of this.servers) s.close();
    for (const pr of this.peerRib.values()) {
      this.endStale(pr);
      if (pr.mraiTimer) clearTimeout(pr.mraiTimer);
    }
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
