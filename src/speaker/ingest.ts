// The neighbors' side of the RIB (their UpdateIngest): UPDATEs go to the pipeline with the
// session's PeerContext; session up, down and ROUTE-REFRESH go to the peer's RIB state and to
// its advertisement.

import type { Config, NeighborConfig } from '../config/schema.js';
import { log } from '../log.js';
import type { Policy } from '../policy/policy.js';
import { otcIngress } from '../policy/otc.js';
import type { Neighbor, UpdateIngest } from '../neighbor/neighbor.js';
import type { Event } from '../neighbor/fsm.js';
import type { BatchResult, PeerContext } from '../rib/apply.js';
import type { RibPipeline, WorkerFault } from '../rib/pipeline.js';
import type { Advertiser } from '../advertise/schedule.js';
import { exportTarget } from './exportTarget.js';
import type { PeerState } from './peerState.js';

const ACCEPT_ALL: Policy = { default: 'accept', rules: [] };

/** The log line of a batch the RIB failed (`name`: its neighbor; none for local routes or outside a batch). */
export function workerFaultLine(f: WorkerFault, name: string | undefined): string {
  if (f.seq < 0) return `RIB worker fault outside any batch (worker replaced): ${f.detail}`;
  const how = f.how === 'died' ? 'its worker died or threw out of it; the shards it held completed' : 'an exception in a shard turn; the shard rebuilt';
  const then = f.task === 'flush' ? 'the flush was completed' : name ? 'the session is reset (Cease / Out of Resources) and its routes flushed' : 'the routes are refused';
  return `RIB worker fault: ${f.task} batch ${f.seq} of ${name ?? (f.peer ? `local routes (peer ${f.peer})` : 'no peer')} lost (${how}): ${then}: ${f.detail}`;
}

export class Ingest implements UpdateIngest {
  private readonly rfc8212Logged = new Set<Neighbor>();

  constructor(
    private readonly config: Config,
    private readonly rib: RibPipeline,
    private readonly peers: ReadonlyMap<Neighbor, PeerState>,
    /** null in collector mode: nothing is advertised, a session gets End-of-RIB only. */
    private readonly advertiser: Advertiser | null,
    /** Each batch applied: its neighbor, result and seconds from submission to result. */
    private readonly applied: (n: Neighbor, r: BatchResult, seconds: number) => void = () => {},
  ) {}

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
  submit(n: Neighbor, buffer: SharedArrayBuffer, descriptors: Uint32Array): Promise<BatchResult> {
    const state = this.peers.get(n)!;
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
      // RFC 9234 §5: ingress OTC rules on eBGP.
      otc: s.ebgp ? otcIngress(n.config.role, s.peerAs) : undefined,
      maxAsPath: n.config.maxAsPathLength,
    };
    const t0 = performance.now();
    return this.rib.submitUpdates(state.index, ctx, buffer, descriptors).then((r) => {
      state.counted(r);
      this.applied(n, r, (performance.now() - t0) / 1000);
      return r;
    });
  }

  sessionUp(n: Neighbor): void {
    const state = this.peers.get(n)!;
    state.up();
    // RFC 4724 §2: End-of-RIB after the initial table, which a collector's is empty.
    if (!this.advertiser) n.sendEndOfRib();
    else this.advertiser.open(n, exportTarget(n, state.index, this.config.global, this.policy(n, 'exportPolicy')));
  }

  sessionDown(n: Neighbor, event: Event): void {
    this.advertiser?.close(n);
    this.peers.get(n)!.down(event);
  }

  /**
   * The neighbor's export rules changed (a reload): its Adj-RIB-Out recomputed and sent again,
   * what the new rules refuse withdrawn (soft reset out). False when the session is not up.
   */
  exportChanged(n: Neighbor): boolean {
    const state = this.peers.get(n);
    if (!state || !n.established || !this.advertiser) return false;
    this.advertiser.retarget(n, exportTarget(n, state.index, this.config.global, this.policy(n, 'exportPolicy')));
    return true;
  }

  /** ROUTE-REFRESH: the family's Adj-RIB-Out again (in collector mode empty: nothing). */
  resend(n: Neighbor, family: string): void {
    this.advertiser?.resend(n, family);
  }
}
