// Helpers for the live-session fuzz test (sessions.test.ts): per-peer streams of mutated
// UPDATEs with their reference verdicts, what each stream should do to a neighbor's import
// counters, and a receiving peer's view of the routes it was sent.

import {
  CapabilityCode,
  decodeUpdate,
  formatPrefix,
  parsePrefix,
  type Capability,
  type Prefix,
} from '../../src/packet/index.js';
import type { ImportStats } from '../../src/rib/importStats.js';
import type { Received } from '../helpers/rawPeer.js';
import { fixHeader, MUTATIONS, mutateOnce, syntheticSeed, type Rng, type Seed } from './mutate.js';
import { referenceDecode, type RefContext, type RefVerdict } from './reference.js';

/** Every fuzzed session: both sides 4-octet AS, external, no ADD-PATH. */
export const CTX: RefContext = { asn4: true, ebgp: true, addPath4: false, addPath6: false };

/** The OPEN capabilities of a fuzzed session: IPv4 and IPv6 unicast, ROUTE-REFRESH, 4-octet AS. */
export function fuzzCaps(asn: number): Capability[] {
  return [
    { code: CapabilityCode.Multiprotocol, afi: 1, safi: 1 },
    { code: CapabilityCode.Multiprotocol, afi: 2, safi: 1 },
    { code: CapabilityCode.RouteRefresh } as Capability,
    { code: CapabilityCode.FourOctetAs, asn },
  ];
}

export interface FuzzCase {
  /** Position in its peer's stream. */
  index: number;
  msg: Uint8Array;
  verdict: RefVerdict;
  origin: string;
  mutations: string[];
}

const fits = (s: Seed) => s.ctx.asn4 === CTX.asn4 && s.ctx.addPath4 === CTX.addPath4 && s.ctx.addPath6 === CTX.addPath6;

/**
 * `n` cases for one peer: a seed (mostly one encoded for this session's context, a trace
 * UPDATE or a synthetic one), 0-4 mutations, and the reference verdict in CTX. At most
 * `maxResets` of them end the session, spread over the stream: a reset case is kept only
 * when enough cases went since the last one, the two commonest subcodes less often.
 */
export function fuzzStream(seeds: Seed[], rng: Rng, n: number, maxResets: number): FuzzCase[] {
  const matching = seeds.filter(fits);
  const gap = Math.max(1, Math.floor(n / (maxResets + 1)) - 2);
  const out: FuzzCase[] = [];
  let resets = 0;
  let sinceReset = 0;
  while (out.length < n) {
    let seed: Seed;
    if (rng.chance(0.25) || !seeds.length) {
      seed = syntheticSeed(rng);
      for (let tries = 0; !fits(seed) && tries < 20 && rng.chance(0.9); tries++) seed = syntheticSeed(rng);
    } else seed = rng.chance(0.85) && matching.length ? rng.pick(matching) : rng.pick(seeds);
    let msg = seed.msg;
    const mutations: string[] = [];
    for (let k = rng.pick([0, 1, 1, 1, 2, 2, 3, 4]); k > 0; k--) {
      const m = rng.pick(MUTATIONS);
      mutations.push(m);
      msg = mutateOnce(msg, CTX, rng, m);
      if (msg.length > 4096) msg = fixHeader(msg.slice(0, 4096));
    }
    const verdict = referenceDecode(msg, CTX);
    if (verdict.kind === 'reset') {
      const common = verdict.subcode === 1 || verdict.subcode === 10;
      if (resets >= maxResets || sinceReset < gap || (common && !rng.chance(0.35))) continue;
      resets++;
      sinceReset = 0;
    } else sinceReset++;
    out.push({ index: out.length, msg, verdict, origin: seed.origin, mutations });
  }
  return out;
}

/** A prefix in one text form (host bits cleared, as the RIB keys it). */
export function canon(prefix: string): string {
  const { afi, bytes, length } = parsePrefix(prefix);
  const b = bytes.slice();
  for (let i = 0; i < b.length; i++) {
    const bit = i * 8;
    if (bit >= length) b[i] = 0;
    else if (bit + 8 > length) b[i] &= (0xff << (8 - (length - bit))) & 0xff;
  }
  return formatPrefix(afi, b, length);
}

export type ImportKind = 'accept' | 'none' | 'reject' | 'rule';

/** The one prefix the "rule" import policy accepts (everything else it rejects). */
export const RULE_ACCEPTS = '192.0.2.0/24';

export function accepts(kind: ImportKind, prefix: string): boolean {
  return kind === 'accept' || (kind === 'rule' && prefix === RULE_ACCEPTS);
}

/** The counters of src/rib/importStats.ts that a stream determines, attribute discards summed. */
export interface ExpectedStats {
  treatAsWithdraw4: number;
  treatAsWithdraw6: number;
  prefixesTreatAsWithdraw4: number;
  prefixesTreatAsWithdraw6: number;
  attributesDiscarded: number;
  filtered: number;
  resets: Record<string, number>;
}

export function noStats(): ExpectedStats {
  return { treatAsWithdraw4: 0, treatAsWithdraw6: 0, prefixesTreatAsWithdraw4: 0, prefixesTreatAsWithdraw6: 0, attributesDiscarded: 0, filtered: 0, resets: {} };
}

/** What one UPDATE adds to the counters of a neighbor with import `kind`. */
export function countExpected(e: ExpectedStats, v: RefVerdict, kind: ImportKind): void {
  if (v.kind === 'reset') {
    const k = `${v.code}/${v.subcode}`;
    e.resets[k] = (e.resets[k] ?? 0) + 1;
    return;
  }
  const v4 = v.announced.filter((p) => !p.includes(':')).length;
  const v6 = v.announced.length - v4;
  if (v.treatAsWithdraw && v.announced.length) {
    if (v4) e.treatAsWithdraw4++;
    if (v6) e.treatAsWithdraw6++;
    e.prefixesTreatAsWithdraw4 += v4;
    e.prefixesTreatAsWithdraw6 += v6;
  }
  e.attributesDiscarded += v.discarded.length;
  if (!v.treatAsWithdraw) e.filtered += v.announced.filter((p) => !accepts(kind, canon(p))).length;
}

export function actualStats(s: ImportStats): ExpectedStats {
  return {
    treatAsWithdraw4: s.ipv4Unicast.treatAsWithdraw,
    treatAsWithdraw6: s.ipv6Unicast.treatAsWithdraw,
    prefixesTreatAsWithdraw4: s.ipv4Unicast.prefixesTreatAsWithdraw,
    prefixesTreatAsWithdraw6: s.ipv6Unicast.prefixesTreatAsWithdraw,
    attributesDiscarded: s.ipv4Unicast.attributesDiscarded + s.ipv6Unicast.attributesDiscarded,
    filtered: s.ipv4Unicast.filtered + s.ipv6Unicast.filtered,
    resets: { ...s.resets },
  };
}

/**
 * A neighbor's Adj-RIB-In as the reference sees it: what its accepted UPDATEs announced and
 * did not withdraw since its session last came up. A prefix both withdrawn and announced in
 * one UPDATE is left open (RFC 4760 §3 leaves NLRI against MP_REACH ordering undefined).
 */
export class AdjRibInModel {
  readonly held = new Set<string>();
  readonly open = new Set<string>();

  apply(v: RefVerdict, kind: ImportKind): void {
    if (v.kind === 'reset') return;
    const withdrawn = v.withdrawn.map(canon);
    const announced = v.announced.map(canon);
    for (const p of withdrawn) this.held.delete(p);
    for (const p of announced) {
      if (v.treatAsWithdraw || !accepts(kind, p)) this.held.delete(p);
      else this.held.add(p);
      if (withdrawn.includes(p)) this.open.add(p);
    }
  }

  /** The session went down: every path goes. */
  clear(): void {
    this.held.clear();
  }
}

/** A receiving peer's view: every UPDATE it was sent, replayed (NLRI and MP_(UN)REACH_NLRI). */
export class SinkView {
  readonly table = new Set<string>();
  /** Every prefix ever announced to it. */
  readonly ever = new Set<string>();
  /** UPDATEs it could not decode, as hex. */
  readonly undecodable: string[] = [];
  private seen = 0;

  constructor(private readonly received: Received[]) {}

  update(): this {
    for (; this.seen < this.received.length; this.seen++) {
      const m = this.received[this.seen];
      if (m.type !== 2) continue;
      let u;
      try {
        u = decodeUpdate(m.bytes, { asn4: true, ebgp: true });
      } catch (e) {
        this.undecodable.push(`${Buffer.from(m.bytes).toString('hex')} (${(e as Error).message})`);
        continue;
      }
      const reach = u.attributes.find((a) => a.type === 14) as { nlri: Prefix[] } | undefined;
      const unreach = u.attributes.find((a) => a.type === 15) as { withdrawn: Prefix[] } | undefined;
      for (const w of [...u.withdrawn, ...(unreach?.withdrawn ?? [])]) this.table.delete(canon(w.prefix));
      for (const n of [...u.nlri, ...(reach?.nlri ?? [])]) {
        const p = canon(n.prefix);
        this.table.add(p);
        this.ever.add(p);
      }
    }
    return this;
  }
}

export const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
