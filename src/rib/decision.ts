// The decision process (RFC 4271 §9.1.2) as set elimination, in the order operators know from
// BIRD and FRR. Eliminating step by step over the whole candidate set (rather than comparing
// pairs as paths arrive) makes the result independent of arrival order, MED included.

import {
  F_AS_LOOP,
  F_HAS_ORIGINATOR,
  M_AS_PATH_LEN,
  M_CLUSTER_LEN,
  M_FLAGS,
  M_LOCAL_PREF,
  M_MED,
  M_NEIGHBOR_AS,
  M_ORIGIN,
  M_ORIGINATOR_ID,
  META_WORDS,
  P_ATTR,
  P_NEXT,
  P_PATH_ID,
  P_PEER,
  PATH_WORDS,
  PEER_ADDR,
  PEER_FLAGS,
  PEER_ID,
  PEER_WORDS,
  PF_ALLOWAS_SHIFT,
  PF_IBGP,
  OWN_AS_SHIFT,
  type RibViews,
} from './memory.js';

/** The step that eliminated a path, kept in its record so a user can ask why it lost. */
export enum Reason {
  Best = 0,
  LocalPref = 1,
  AsPathLength = 2,
  Origin = 3,
  Med = 4,
  EbgpOverIbgp = 5,
  RouterId = 7,
  ClusterListLength = 8,
  PeerAddress = 9,
  PathId = 10,
  /** Not eligible at all: our own AS is in its AS_PATH. */
  AsLoop = 15,
}

export const REASON_NAMES: Record<number, string> = {
  0: 'best',
  1: 'lower LOCAL_PREF',
  2: 'longer AS_PATH',
  3: 'higher ORIGIN',
  4: 'higher MED (same neighbor AS)',
  5: 'iBGP path while an eBGP path exists',
  7: 'higher BGP Identifier',
  8: 'longer CLUSTER_LIST',
  9: 'higher peer address',
  10: 'higher path identifier',
  15: 'own AS in AS_PATH',
};

/** Bits 16-23 of a path's peer word hold its Reason (memory.ts P_PEER). */
const REASON_MASK = 0x00ff0000;

const MAX_CANDIDATES = 4096;
const cand = new Int32Array(MAX_CANDIDATES);
const alive = new Uint8Array(MAX_CANDIDATES);
const key = new Float64Array(MAX_CANDIDATES);
const beaten = new Uint8Array(MAX_CANDIDATES);

/** Eliminates every alive candidate whose key is above the minimum; returns how many remain. */
function keepMin(n: number, reason: number, paths: Uint32Array): number {
  let min = Infinity;
  for (let i = 0; i < n; i++) if (alive[i] && key[i] < min) min = key[i];
  let left = 0;
  for (let i = 0; i < n; i++) {
    if (!alive[i]) continue;
    if (key[i] > min) {
      alive[i] = 0;
      paths[cand[i] * PATH_WORDS + P_PEER] = (paths[cand[i] * PATH_WORDS + P_PEER] & ~REASON_MASK) | (reason << 16);
    } else left++;
  }
  return left;
}

/**
 * Whether path record `r` may be chosen at all, its reason reset to Best or set to AsLoop.
 * RFC 4271 §9.1.2: our own AS in AS_PATH makes a path unusable, unless the peer is allowed
 * that many (allowas-in); a reflected route of our own is never used (RFC 4456 §8).
 */
function markEligible(v: RibViews, paths: Uint32Array, r: number): boolean {
  const attr = paths[r * PATH_WORDS + P_ATTR];
  // metaWith: a set another worker added may lie past this thread's view.
  const flags = v.metaWith(attr)[attr * META_WORDS + M_FLAGS];
  const peerWord = paths[r * PATH_WORDS + P_PEER];
  const allowed = (v.peers[(peerWord & 0xffff) * PEER_WORDS + PEER_FLAGS] >>> PF_ALLOWAS_SHIFT) & 0xff;
  const eligible = (flags & F_AS_LOOP) === 0 && (flags >>> OWN_AS_SHIFT) <= allowed;
  paths[r * PATH_WORDS + P_PEER] = (peerWord & ~REASON_MASK) | ((eligible ? Reason.Best : Reason.AsLoop) << 16);
  return eligible;
}

/**
 * Chooses the best of the paths on the list starting at `head` in one shard. Returns the best
 * path record (0 if none is eligible) and stores each loser's reason in its record.
 */
export function selectBest(v: RibViews, paths: Uint32Array, head: number): number {
  // A single candidate is best when it is eligible at all: every step below would keep it.
  if (head !== 0 && paths[head * PATH_WORDS + P_NEXT] === 0) return markEligible(v, paths, head) ? head : 0;
  let n = 0;
  let left = 0;
  for (let r = head; r !== 0; r = paths[r * PATH_WORDS + P_NEXT]) {
    const eligible = markEligible(v, paths, r);
    cand[n] = r;
    alive[n] = eligible ? 1 : 0;
    if (eligible) left++;
    n++;
  }
  if (left === 0) return 0;
  const meta = v.attrMeta;
  const peers = v.peers;
  const m = (i: number, w: number) => meta[paths[cand[i] * PATH_WORDS + P_ATTR] * META_WORDS + w];
  const peer = (i: number, w: number) => peers[(paths[cand[i] * PATH_WORDS + P_PEER] & 0xffff) * PEER_WORDS + w];

  if (left > 1) {
    for (let i = 0; i < n; i++) key[i] = -m(i, M_LOCAL_PREF);
    left = keepMin(n, Reason.LocalPref, paths);
  }
  if (left > 1) {
    for (let i = 0; i < n; i++) key[i] = m(i, M_AS_PATH_LEN);
    left = keepMin(n, Reason.AsPathLength, paths);
  }
  if (left > 1) {
    for (let i = 0; i < n; i++) key[i] = m(i, M_ORIGIN);
    left = keepMin(n, Reason.Origin, paths);
  }
  if (left > 1) {
    // MED is compared only among paths from the same neighboring AS (unless always-compare).
    const always = v.buffers.alwaysCompareMed;
    for (let i = 0; i < n; i++) {
      beaten[i] = 0;
      if (!alive[i]) continue;
      const as = m(i, M_NEIGHBOR_AS);
      const med = m(i, M_MED);
      for (let j = 0; j < n; j++) {
        if (j === i || !alive[j] || (!always && m(j, M_NEIGHBOR_AS) !== as)) continue;
        if (m(j, M_MED) < med) {
          beaten[i] = 1; // removed below, so every comparison is over the same set
          break;
        }
      }
    }
    left = 0;
    for (let i = 0; i < n; i++) {
      if (!alive[i]) continue;
      if (beaten[i]) {
        alive[i] = 0;
        paths[cand[i] * PATH_WORDS + P_PEER] = (paths[cand[i] * PATH_WORDS + P_PEER] & ~REASON_MASK) | (Reason.Med << 16);
      } else left++;
    }
  }
  if (left > 1) {
    for (let i = 0; i < n; i++) key[i] = peer(i, PEER_FLAGS) & PF_IBGP ? 1 : 0;
    left = keepMin(n, Reason.EbgpOverIbgp, paths);
  }
  if (left > 1) {
    for (let i = 0; i < n; i++) key[i] = m(i, M_FLAGS) & F_HAS_ORIGINATOR ? m(i, M_ORIGINATOR_ID) : peer(i, PEER_ID);
    left = keepMin(n, Reason.RouterId, paths);
  }
  if (left > 1) {
    for (let i = 0; i < n; i++) key[i] = m(i, M_CLUSTER_LEN);
    left = keepMin(n, Reason.ClusterListLength, paths);
  }
  if (left > 1) {
    for (let i = 0; i < n; i++) key[i] = peer(i, PEER_ADDR);
    left = keepMin(n, Reason.PeerAddress, paths);
  }
  if (left > 1) {
    for (let i = 0; i < n; i++) key[i] = paths[cand[i] * PATH_WORDS + P_PATH_ID];
    left = keepMin(n, Reason.PathId, paths);
  }
  for (let i = 0; i < n; i++) if (alive[i]) return cand[i];
  return 0;
}

/** A loser's reason from the first three steps, or its ineligibility: it never met the rest. */
export function lostEarly(peerWord: number): boolean {
  const reason = (peerWord & REASON_MASK) >>> 16;
  return reason === Reason.LocalPref || reason === Reason.AsPathLength || reason === Reason.Origin || reason === Reason.AsLoop;
}

/**
 * The first of the first three steps (higher LOCAL_PREF, shorter AS_PATH, lower ORIGIN) at
 * which path `a` loses to path `b` (a Reason), minus the step at which it wins, or 0 when they
 * are equal in all three.
 */
function earlySteps(meta: Uint32Array, a: number, b: number): number {
  const ma = a * META_WORDS;
  const mb = b * META_WORDS;
  if (meta[ma + M_LOCAL_PREF] !== meta[mb + M_LOCAL_PREF]) return meta[ma + M_LOCAL_PREF] < meta[mb + M_LOCAL_PREF] ? Reason.LocalPref : -Reason.LocalPref;
  if (meta[ma + M_AS_PATH_LEN] !== meta[mb + M_AS_PATH_LEN]) return meta[ma + M_AS_PATH_LEN] > meta[mb + M_AS_PATH_LEN] ? Reason.AsPathLength : -Reason.AsPathLength;
  if (meta[ma + M_ORIGIN] !== meta[mb + M_ORIGIN]) return meta[ma + M_ORIGIN] > meta[mb + M_ORIGIN] ? Reason.Origin : -Reason.Origin;
  return 0;
}

/**
 * The best path after one path, record `added`, joined the candidates (new, or replacing one
 * that had lost in the first three steps), when `best` was the best before: the same answer,
 * and the same reasons in every record, as selectBest over all of them, without running every
 * step again when the first three steps decide. They are a lexicographic order (LOCAL_PREF,
 * AS_PATH length, ORIGIN) and the best before had the least key of all eligible candidates; so
 * a path worse than it at one of them loses there and changes nothing else, and a path better
 * than it is the only one left after them and wins, each other eligible path losing at its
 * first step that differs. A path equal to it in all three goes through every step (MED, which
 * compares only within a neighbor AS, is not an order).
 */
export function decideWithAdded(v: RibViews, paths: Uint32Array, head: number, best: number, added: number): number {
  if (!markEligible(v, paths, added)) return best; // never a candidate
  const meta = v.metaWith(Math.max(paths[best * PATH_WORDS + P_ATTR], paths[added * PATH_WORDS + P_ATTR]));
  const addedAttr = paths[added * PATH_WORDS + P_ATTR];
  const step = earlySteps(meta, addedAttr, paths[best * PATH_WORDS + P_ATTR]);
  if (step === 0) return selectBest(v, paths, head);
  const setReason = (r: number, reason: number) => (paths[r * PATH_WORDS + P_PEER] = (paths[r * PATH_WORDS + P_PEER] & ~REASON_MASK) | (reason << 16));
  if (step > 0) {
    setReason(added, step);
    return best;
  }
  for (let r = head; r !== 0; r = paths[r * PATH_WORDS + P_NEXT]) {
    if (r === added || (paths[r * PATH_WORDS + P_PEER] & REASON_MASK) >>> 16 === Reason.AsLoop) continue;
    const attr = paths[r * PATH_WORDS + P_ATTR];
    setReason(r, earlySteps(v.metaWith(attr), attr, addedAttr));
  }
  return added;
}

