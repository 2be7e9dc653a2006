// Neighbors as operators read them: FRR's `show bgp summary json` field names (ecosystem §1.3)
// for the summary, and one peer in detail with its capabilities, timers, recent FSM
// transitions and messages by type.

import { State } from '../neighbor/fsm.js';
import type { Neighbor } from '../neighbor/neighbor.js';
import { newImportStats, type FamilyImportStats } from '../rib/importStats.js';
import type { Speaker } from '../speaker/speaker.js';
import { NeighborLog } from './neighborLog.js';
import type { RibCounts } from './ribView.js';
import { num } from './transport.js';

export interface FamilyPrefixes {
  /** Paths held from the peer (its Adj-RIB-In after import policy). */
  pfxRcd: number;
  pfxAccepted: number;
  /** Announcements the import policy, RFC 8212 or a max-prefix block kept out, since start. */
  pfxFiltered: number;
  /** Prefixes the peer holds from us. */
  pfxSnt: number;
}

export interface PeerSummary extends FamilyPrefixes {
  remoteAs: number;
  localAs: number;
  description?: string;
  state: State;
  adminState: 'up' | 'down';
  /** FRR's peerState: OK, Admin, Passive (waiting for the peer), Idle. */
  peerState: 'OK' | 'Admin' | 'Passive' | 'Idle';
  peerUptime: string;
  peerUptimeMsec: number;
  peerUptimeEstablishedEpoch?: number;
  msgRcvd: number;
  msgSent: number;
  /** Bytes queued for the socket and not yet written. */
  outq: number;
  ipv4Unicast: FamilyPrefixes;
  ipv6Unicast: FamilyPrefixes;
  connectionsEstablished: number;
  connectionsDropped: number;
  lastResetDueTo?: string;
  /** "code/subcode" of the last NOTIFICATION sent or received. */
  lastResetCode?: string;
  /** Negotiated, seconds. */
  holdTime?: number;
  keepalive?: number;
  capabilities: { local: readonly string[]; remote: readonly string[] };
  /** RFC 7606 outcomes per family and resets by code/subcode. */
  rfc7606: { ipv4Unicast: Rfc7606Counts; ipv6Unicast: Rfc7606Counts; resets: Record<string, number> };
  /** `[neighbors.max-prefix]`, OpenConfig's prefix-limit names: the limit, its action, the warning share. */
  prefixLimit?: { maxPrefixes: number; action: string; warningThresholdPct: number };
}

export type Rfc7606Counts = Omit<FamilyImportStats, 'filtered'>;

const two = (x: number) => (x >= 0 && x < 10 ? `0${x}` : `${x}`);

export function uptimeText(ms: number): string {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const hms = `${two(Math.floor(s / 3600) % 24)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
  return d ? `${d}d${hms}` : hms;
}

function familyPrefixes(held: number, filtered: number, sent: number): FamilyPrefixes {
  return { pfxRcd: held, pfxAccepted: held, pfxFiltered: filtered, pfxSnt: sent };
}

function rfc7606(f: FamilyImportStats): Rfc7606Counts {
  return { treatAsWithdraw: f.treatAsWithdraw, prefixesTreatAsWithdraw: f.prefixesTreatAsWithdraw, attributesDiscarded: f.attributesDiscarded };
}

// GET /neighbors as text, written field by field: what JSON.stringify gives for the same
// objects (test/api/json.test.ts holds them to it), in a fraction of its time on this path.

const str = JSON.stringify;

/** A peer without a session: one list, so that its JSON is cached too (stringList). */
const NO_CAPABILITIES: readonly string[] = [];

/** Capability names per session, as JSON: the arrays stay the same for the session. */
const stringLists = new WeakMap<readonly string[], string>();
function stringList(list: readonly string[]): string {
  let text = stringLists.get(list);
  if (text === undefined) {
    text = str(list);
    stringLists.set(list, text);
  }
  return text;
}

const familyJson = (f: FamilyPrefixes) => `{"pfxRcd":${num(f.pfxRcd)},"pfxAccepted":${num(f.pfxAccepted)},"pfxFiltered":${num(f.pfxFiltered)},"pfxSnt":${num(f.pfxSnt)}}`;
const rfc7606Json = (f: Rfc7606Counts) => `{"treatAsWithdraw":${num(f.treatAsWithdraw)},"prefixesTreatAsWithdraw":${num(f.prefixesTreatAsWithdraw)},"attributesDiscarded":${num(f.attributesDiscarded)}}`;

/** JSON.stringify(p) for a summary from NeighborView.peer. */
export function peerJson(p: PeerSummary): string {
  let o = `{"remoteAs":${num(p.remoteAs)},"localAs":${num(p.localAs)}`;
  if (p.description !== undefined) o += `,"description":${str(p.description)}`;
  o +=
    `,"state":${str(p.state)},"adminState":${str(p.adminState)},"peerState":${str(p.peerState)},"peerUptime":${str(p.peerUptime)},"peerUptimeMsec":${num(p.peerUptimeMsec)}` +
    `,"msgRcvd":${num(p.msgRcvd)},"msgSent":${num(p.msgSent)},"outq":${num(p.outq)}` +
    `,"pfxRcd":${num(p.pfxRcd)},"pfxAccepted":${num(p.pfxAccepted)},"pfxFiltered":${num(p.pfxFiltered)},"pfxSnt":${num(p.pfxSnt)}` +
    `,"ipv4Unicast":${familyJson(p.ipv4Unicast)},"ipv6Unicast":${familyJson(p.ipv6Unicast)}` +
    `,"connectionsEstablished":${num(p.connectionsEstablished)},"connectionsDropped":${num(p.connectionsDropped)}` +
    `,"capabilities":{"local":${stringList(p.capabilities.local)},"remote":${stringList(p.capabilities.remote)}}` +
    `,"rfc7606":{"ipv4Unicast":${rfc7606Json(p.rfc7606.ipv4Unicast)},"ipv6Unicast":${rfc7606Json(p.rfc7606.ipv6Unicast)},"resets":${str(p.rfc7606.resets)}}`;
  if (p.peerUptimeEstablishedEpoch !== undefined) o += `,"peerUptimeEstablishedEpoch":${num(p.peerUptimeEstablishedEpoch)}`;
  const l = p.prefixLimit;
  if (l !== undefined) o += `,"prefixLimit":{"maxPrefixes":${num(l.maxPrefixes)},"action":${str(l.action)},"warningThresholdPct":${num(l.warningThresholdPct)}}`;
  if (p.lastResetDueTo !== undefined) o += `,"lastResetDueTo":${str(p.lastResetDueTo)}`;
  if (p.lastResetCode !== undefined) o += `,"lastResetCode":${str(p.lastResetCode)}`;
  if (p.holdTime !== undefined) o += `,"holdTime":${num(p.holdTime)}`;
  if (p.keepalive !== undefined) o += `,"keepalive":${num(p.keepalive)}`;
  return o + '}';
}

export class NeighborView {
  private readonly logs = new Map<Neighbor, NeighborLog>();

  /** Attach before the speaker starts, so that no transition is missed. */
  constructor(private readonly speaker: Speaker) {
    for (const n of speaker.neighbors.values()) this.logs.set(n, new NeighborLog(n));
    // A reload adds and removes neighbors while the API runs.
    speaker.on('neighborAdded', (n) => this.logs.set(n, new NeighborLog(n)));
    speaker.on('neighborRemoved', (n) => this.logs.delete(n));
  }

  log(n: Neighbor): NeighborLog {
    return this.logs.get(n)!;
  }

  /**
   * One peer's summary. Every field has its place in one object literal (absent ones
   * undefined, which JSON leaves out): objects of one shape, built and serialized on the fast
   * paths, since /neighbors is asked in a loop while the main thread is the ingest's.
   */
  peer(n: Neighbor, now = Date.now()): PeerSummary {
    const c = n.config;
    const log = this.log(n);
    const up = n.state === State.Established;
    const counts = this.speaker.routeCounts(n);
    const stats = counts?.stats ?? NO_IMPORTS;
    const v4 = familyPrefixes(counts?.received.ipv4 ?? 0, stats.ipv4Unicast.filtered, counts?.advertised.ipv4 ?? 0);
    const v6 = familyPrefixes(counts?.received.ipv6 ?? 0, stats.ipv6Unicast.filtered, counts?.advertised.ipv6 ?? 0);
    const s = n.session;
    const err = n.lastError;
    const mp = c.maxPrefix;
    return {
      remoteAs: c.remoteAs,
      localAs: c.localAs ?? this.speaker.config.global.asn,
      description: c.description ? c.description : undefined,
      state: n.state,
      adminState: n.adminUp ? 'up' : 'down',
      peerState: !n.adminUp ? 'Admin' : up ? 'OK' : c.passive ? 'Passive' : 'Idle',
      peerUptime: uptimeText(now - log.since),
      peerUptimeMsec: now - log.since,
      msgRcvd: n.received.total,
      msgSent: n.sent.total,
      outq: n.outputBacklog,
      pfxRcd: v4.pfxRcd + v6.pfxRcd,
      pfxAccepted: v4.pfxAccepted + v6.pfxAccepted,
      pfxFiltered: v4.pfxFiltered + v6.pfxFiltered,
      pfxSnt: v4.pfxSnt + v6.pfxSnt,
      ipv4Unicast: v4,
      ipv6Unicast: v6,
      connectionsEstablished: log.connectionsEstablished,
      connectionsDropped: log.connectionsDropped,
      capabilities: { local: s?.localCapabilities ?? NO_CAPABILITIES, remote: s?.remoteCapabilities ?? NO_CAPABILITIES },
      rfc7606: { ipv4Unicast: rfc7606(stats.ipv4Unicast), ipv6Unicast: rfc7606(stats.ipv6Unicast), resets: { ...stats.resets } },
      peerUptimeEstablishedEpoch: up ? Math.floor(log.since / 1000) : undefined,
      prefixLimit: mp ? { maxPrefixes: mp.limit, action: mp.action, warningThresholdPct: mp.warnPct } : undefined,
      lastResetDueTo: err ? `${err.direction === 'local' ? '' : `NOTIFICATION ${err.direction}: `}${err.text}` : undefined,
      lastResetCode: err ? `${err.code}/${err.subcode}` : undefined,
      holdTime: s ? s.holdTime : undefined,
      keepalive: s ? s.keepalive : undefined,
    };
  }

  /** GET /neighbors: FRR's summary with every peer by address. */
  summary(rib: RibCounts | null, now = Date.now()): Record<string, unknown> {
    const peers: Record<string, PeerSummary> = {};
    for (const [address, n] of this.speaker.neighbors) peers[address] = this.peer(n, now);
    return { ...this.head(rib), peers };
  }

  /** JSON.stringify(summary(rib, now)), written by peerJson. */
  summaryJson(rib: RibCounts | null, now = Date.now()): string {
    const h = this.head(rib);
    let o = `{"routerId":${str(h.routerId)},"as":${num(h.as)},"ribCount":${num(h.ribCount)},"ribMemory":${num(h.ribMemory)},"peerCount":${num(h.peerCount)},"failedPeers":${num(h.failedPeers)},"totalPeers":${num(h.totalPeers)},"peers":{`;
    let first = true;
    for (const [address, n] of this.speaker.neighbors) {
      o += `${first ? '' : ','}${str(address)}:${peerJson(this.peer(n, now))}`;
      first = false;
    }
    return o + '}}';
  }

  /** The summary's fields before its peers. */
  private head(rib: RibCounts | null) {
    let failed = 0;
    for (const n of this.speaker.neighbors.values()) if (n.state !== State.Established) failed++;
    const g = this.speaker.config.global;
    return {
      routerId: g.routerId,
      as: g.asn,
      ribCount: rib ? rib.ipv4Unicast.prefixes + rib.ipv6Unicast.prefixes : 0,
      ribMemory: rib?.ribMemory ?? 0,
      peerCount: this.speaker.neighbors.size,
      failedPeers: failed,
      totalPeers: this.speaker.neighbors.size,
    };
  }

  /** GET /neighbors/{address}: the summary's fields and the session's detail. */
  detail(n: Neighbor): Record<string, unknown> {
    const c = n.config;
    const log = this.log(n);
    const s = n.session;
    return {
      address: c.address,
      ...this.peer(n),
      localAddress: n.localAddress ?? c.localAddress,
      port: c.port,
      passive: c.passive,
      configuredHoldTime: c.holdTime,
      remoteRouterId: s?.peerId,
      families: s?.families ?? c.families,
      addPath: s ? { receive: s.addPathReceive, send: s.addPathSend } : undefined,
      gracefulRestart: s?.peerGracefulRestart ?? undefined,
      role: c.role,
      messages: { received: { ...n.received }, sent: { ...n.sent } },
      endOfRib: Object.fromEntries(Object.entries(log.endOfRib).map(([f, at]) => [f, new Date(at).toISOString()])),
      transitions: log.transitions.map((t) => ({ at: new Date(t.at).toISOString(), from: t.from, to: t.to, event: t.event })),
    };
  }
}

const NO_IMPORTS = newImportStats();
