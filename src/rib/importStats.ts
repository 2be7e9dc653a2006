// What a peer's UPDATEs came to, per address family: the RFC 7606 outcomes (treat-as-withdraw,
// attribute discard, session reset by subcode) and what the import policy kept out. Kept on
// the main thread from the workers' batch counts; logged at a bounded rate.

import { errorName } from '../packet/index.js';
import { LineLimiter } from '../util/lineLimiter.js';
import type { BatchResult } from './apply.js';

export interface FamilyImportStats {
  /** UPDATEs whose announcements were treated as withdrawn (RFC 7606 §2). */
  treatAsWithdraw: number;
  /** Prefixes those UPDATEs announced. */
  prefixesTreatAsWithdraw: number;
  /** Attributes discarded (RFC 7606 §2 attribute discard, §3(g) repeats). */
  attributesDiscarded: number;
  /** Announcements the import policy, RFC 8212 or a max-prefix block kept out. */
  filtered: number;
}

export interface ImportStats {
  ipv4Unicast: FamilyImportStats;
  ipv6Unicast: FamilyImportStats;
  /** Sessions reset for an UPDATE error, by "code/subcode" (e.g. "3/1"). */
  resets: Record<string, number>;
}

const family = (): FamilyImportStats => ({ treatAsWithdraw: 0, prefixesTreatAsWithdraw: 0, attributesDiscarded: 0, filtered: 0 });

export function newImportStats(): ImportStats {
  return { ipv4Unicast: family(), ipv6Unicast: family(), resets: {} };
}

/** Adds one batch's counts. */
export function countBatch(s: ImportStats, r: BatchResult): void {
  s.ipv4Unicast.treatAsWithdraw += r.tawUpdates4;
  s.ipv6Unicast.treatAsWithdraw += r.tawUpdates6;
  s.ipv4Unicast.prefixesTreatAsWithdraw += r.treatedAsWithdraw;
  s.ipv6Unicast.prefixesTreatAsWithdraw += r.tawPrefixes6;
  s.ipv4Unicast.attributesDiscarded += r.discarded4;
  s.ipv6Unicast.attributesDiscarded += r.discarded6;
  s.ipv4Unicast.filtered += r.filtered - r.filtered6;
  s.ipv6Unicast.filtered += r.filtered6;
  if (r.error && r.error.code === 3) {
    const k = `${r.error.code}/${r.error.subcode}`;
    s.resets[k] = (s.resets[k] ?? 0) + 1;
  }
}

/**
 * At most one line per `intervalMs` for each peer; what was held back is summed into the next
 * line, so a peer sending a stream of malformed UPDATEs cannot flood the log.
 */
export class ProblemLog {
  private readonly lines: LineLimiter;

  constructor(
    private readonly write: (line: string) => void,
    intervalMs = 1000,
  ) {
    this.lines = new LineLimiter(write, intervalMs);
  }

  report(name: string, r: BatchResult, now = Date.now()): void {
    if (r.error) {
      // A reset always gets its line.
      this.write(`${name}: UPDATE error, session reset: ${errorName(r.error.code, r.error.subcode)}: ${r.error.detail}`);
      return;
    }
    if (r.problems.length) this.lines.line(`${name}: RFC 7606: ${r.problems.join('; ')}`, r.problems.length, now);
  }
}
