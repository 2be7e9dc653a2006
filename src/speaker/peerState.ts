// Per-neighbor RIB state on the main thread: what its UPDATEs came to (import stats, RFC 7606
// outcomes), its Adj-RIB-In size against max-prefix (RFC 4486), and its stale paths while it
// restarts (RFC 4724, receiving speaker).

import { isIP } from 'node:net';
import type { NeighborConfig } from '../config/schema.js';
import { log } from '../log.js';
import { CeaseSubcode, ipv4ToNumber } from '../packet/index.js';
import type { Neighbor } from '../neighbor/neighbor.js';
import { Event } from '../neighbor/fsm.js';
import type { BatchResult } from '../rib/apply.js';
import type { RibPipeline } from '../rib/pipeline.js';
import { countBatch, newImportStats, ProblemLog, type ImportStats } from '../rib/importStats.js';

/** How long a restarted peer's stale paths wait for its End-of-RIB (FRR's stalepath-time). */
const STALE_PATH_TIME_S = 360;

/** A max-prefix block's limit, enforced by the workers; 0 for the other actions. */
export function blockLimit(n: NeighborConfig): number {
  return n.maxPrefix?.action === 'block' ? n.maxPrefix.limit : 0;
}

export class PeerState {
  /** RFC 7606 outcomes and filtered announcements, per family. */
  readonly stats: ImportStats = newImportStats();
  private readonly problems = new ProblemLog(log);
  /** Paths in this peer's Adj-RIB-In, IPv4 and IPv6. */
  paths4 = 0;
  paths6 = 0;
  private maxPrefixWarned = false;
  /** max-prefix reached (and logged) since the session came up. */
  private maxPrefixReached = false;
  /** Graceful restart: families whose End-of-RIB ends the stale period, and its deadline. */
  private staleFamilies: Set<string> | null = null;
  private staleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly n: Neighbor,
    private readonly rib: RibPipeline,
    /** The neighbor's peer index in the RIB. */
    readonly index: number,
  ) {
    n.on('endOfRib', (family) => this.endOfRib(family));
  }

  /** One batch of this neighbor's UPDATEs applied in the RIB. */
  counted(r: BatchResult): void {
    this.moved(r);
    countBatch(this.stats, r);
    this.problems.report(this.n.name, r);
    if (!r.error) this.checkMaxPrefix();
  }

  /** Paths in this peer's Adj-RIB-In. */
  get paths(): number {
    return this.paths4 + this.paths6;
  }

  /** What a batch or a flush added to (or removed from) the Adj-RIB-In. */
  private moved(r: BatchResult): void {
    this.paths4 += r.pathDelta - r.pathDelta6;
    this.paths6 += r.pathDelta6;
  }

  /** The session is Established: the RIB learns what was negotiated. */
  up(): void {
    const n = this.n;
    // Back before the restart time ran out: stale paths now wait for End-of-RIB, but not forever.
    if (this.staleFamilies) this.startStaleTimer(STALE_PATH_TIME_S);
    const s = n.session!;
    this.rib.setPeer(this.index, {
      asn: s.peerAs,
      routerId: ipv4ToNumber(s.peerId),
      address: isIP(n.config.address) === 4 ? ipv4ToNumber(n.config.address) : 0,
      ibgp: !s.ebgp,
      rrClient: n.config.routeReflectorClient,
      allowasIn: n.config.allowasIn,
      limit: blockLimit(n.config),
    });
  }

  down(event: Event): void {
    const n = this.n;
    this.maxPrefixReached = false;
    this.maxPrefixWarned = false;
    const gr = n.session?.peerGracefulRestart;
    // RFC 4724 §4.2: a session lost without a NOTIFICATION from a restarting-capable peer
    // keeps its paths, marked stale, for the restart time it announced.
    if (gr && gr.restartTime > 0 && n.config.gracefulRestart.enabled && event === Event.TcpConnectionFails) {
      log(`${n.name}: graceful restart: keeping its paths as stale for up to ${gr.restartTime}s`);
      this.staleFamilies = new Set(n.session!.families);
      this.startStaleTimer(gr.restartTime);
      void this.rib.markStale(this.index);
      return;
    }
    this.endStale();
    void this.rib.flushPeer(this.index).then((r) => this.flushed(r));
  }

  /**
   * Every path of the peer removed, after all its batches before (results come in sequence
   * order): it holds none. A batch the RIB lost (a worker fault) changed paths it never
   * reported: the count is set right here.
   */
  private flushed(r: BatchResult): void {
    this.moved(r);
    if (this.paths4 === 0 && this.paths6 === 0) return;
    log(`${this.n.name}: ${this.paths} paths still counted after all its paths were flushed (a batch lost by the RIB): count set to 0`);
    this.paths4 = this.paths6 = 0;
  }

  /**
   * The neighbor's max-prefix settings changed (a reload): the workers' block limit from the
   * next batch on, warnings armed again, and what is held checked against the new limit.
   */
  limitChanged(): void {
    this.rib.setPeerLimit(this.index, blockLimit(this.n.config));
    this.maxPrefixWarned = false;
    this.maxPrefixReached = false;
    if (this.n.established) this.checkMaxPrefix();
  }

  /** Stops the stale timer (shutdown). */
  stop(): void {
    this.endStale();
  }

  private startStaleTimer(seconds: number): void {
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = setTimeout(() => {
      log(`${this.n.name}: graceful restart: stale paths removed after ${seconds}s`);
      this.sweep();
    }, seconds * 1000);
  }

  private endStale(): void {
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = null;
    this.staleFamilies = null;
  }

  private sweep(): void {
    this.endStale();
    void this.rib.sweepStale(this.index).then((r) => this.moved(r));
  }

  /** End-of-RIB from a restarted peer, for every family it had: its stale paths go. */
  private endOfRib(family: string): void {
    if (!this.staleFamilies) return;
    this.staleFamilies.delete(family);
    if (this.staleFamilies.size === 0) {
      log(`${this.n.name}: graceful restart: End-of-RIB received, stale paths removed`);
      this.sweep();
    }
  }

  private checkMaxPrefix(): void {
    const n = this.n;
    const mp = n.config.maxPrefix;
    if (!mp) return;
    if (!this.maxPrefixWarned && this.paths * 100 >= mp.limit * mp.warnPct) {
      this.maxPrefixWarned = true;
      log(`${n.name}: ${this.paths} prefixes, ${mp.warnPct}% of max-prefix ${mp.limit}`);
    }
    if (mp.action === 'block') {
      // The workers admit no path beyond the limit (exactly, across batches): say so once.
      if (this.paths >= mp.limit && !this.maxPrefixReached) log(`${n.name}: max-prefix ${mp.limit} reached: further routes from it are ignored`);
      this.maxPrefixReached ||= this.paths >= mp.limit;
      return;
    }
    if (this.paths <= mp.limit) return;
    switch (mp.action) {
      case 'warn':
        if (!this.maxPrefixReached) log(`${n.name}: max-prefix ${mp.limit} exceeded (${this.paths}): warning only, routes kept`);
        this.maxPrefixReached = true;
        return;
      case 'restart':
      case 'disable':
        log(`${n.name}: max-prefix ${mp.limit} exceeded (${this.paths}): ${mp.action === 'restart' ? `restart in ${mp.restartAfter}s` : 'disabled'}`);
        // RFC 4486: Cease / Maximum Number of Prefixes Reached.
        n.automaticStop(CeaseSubcode.MaximumPrefixesReached, undefined, mp.action === 'restart' ? mp.restartAfter : null);
    }
  }
}
