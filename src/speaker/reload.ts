// Configuration reload (SIGHUP, `ribstorm reload`, POST /config/reload): the file read and
// checked again, compared with the running configuration (../config/diff.ts), and only the
// difference applied, as BIRD's `configure` does. Added neighbors start; removed ones stop
// with Cease / Peer De-configured; a changed import policy asks the peer for its table again
// (ROUTE-REFRESH) or, without route refresh, resets the session; a changed export policy
// sends the Adj-RIB-Out again; a change the OPEN carries resets the session with Cease /
// Other Configuration Change (RFC 4486). Every other session is left alone. A file that does
// not parse, or that changes what cannot change while running, is refused whole.

import { resolve } from 'node:path';
import { diffConfig, type NeighborChange } from '../config/diff.js';
import { ConfigError, loadConfigFile, type Config, type NeighborConfig } from '../config/schema.js';
import { log } from '../log.js';
import { CeaseSubcode } from '../packet/index.js';
import type { Neighbor } from '../neighbor/neighbor.js';
import { State } from '../neighbor/fsm.js';
import type { Speaker } from './speaker.js';

/** What a reload did, by neighbor address (the API's answer). */
export interface ReloadReport {
  added: string[];
  removed: string[];
  /** Sessions reset: a change the OPEN carries, or an import policy without route refresh. */
  reset: string[];
  /** Sessions kept, their routes asked for again or sent again. */
  softReset: string[];
  /** Changes that needed nothing of the session (or it was not up). */
  inPlace: string[];
  unchanged: string[];
  /** Set when the reload was refused: nothing changed. */
  error?: string;
  /** The field the refusal names. */
  field?: string;
}

const emptyReport = (): ReloadReport => ({ added: [], removed: [], reset: [], softReset: [], inPlace: [], unchanged: [] });

function refused(e: ConfigError): ReloadReport {
  log(`reload refused: ${e.message}; the running configuration stays`);
  return { ...emptyReport(), error: e.message, field: e.field };
}

/** Reloads from the file the speaker was started with; one reload at a time. */
export class Reloader {
  private last: Promise<unknown> = Promise.resolve();
  /** null: the speaker was configured by flags, and there is nothing to read again. */
  readonly file: string | null;

  constructor(
    private readonly speaker: Speaker,
    file: string | null,
    /** Reads and checks the file (flags the speaker was started with may stand over it). */
    private readonly load: (file: string) => Config = loadConfigFile,
  ) {
    this.file = file === null ? null : resolve(file);
  }

  reload(): Promise<ReloadReport> {
    const r = this.last.then(() => this.once());
    this.last = r.catch(() => {});
    return r;
  }

  private async once(): Promise<ReloadReport> {
    if (this.file === null) {
      const e = new ConfigError('config', '');
      e.message = 'config: no configuration file to read again (ribstorm run was started with flags; start it with --config FILE to reload)';
      return refused(e);
    }
    let next: Config;
    try {
      next = this.load(this.file);
    } catch (e) {
      if (e instanceof ConfigError) return refused(e);
      throw e;
    }
    return applyConfig(this.speaker, next);
  }
}

/** Applies `next` to the running speaker: only what differs. */
export async function applyConfig(speaker: Speaker, next: Config): Promise<ReloadReport> {
  let diff;
  try {
    diff = diffConfig(speaker.config, next);
  } catch (e) {
    if (e instanceof ConfigError) return refused(e);
    throw e;
  }
  const report = emptyReport();
  report.unchanged = diff.unchanged;
  speaker.config = next;
  const removals = diff.removed.map((address) => {
    const n = speaker.neighbors.get(address)!;
    report.removed.push(address);
    log(`reload: ${n.name} removed: Cease / Peer De-configured, its routes withdrawn`);
    return speaker.removeNeighbor(n);
  });
  for (const change of diff.changed) {
    const n = speaker.neighbors.get(change.address)!;
    report[applyChange(speaker, n, change)].push(change.address);
  }
  for (const c of diff.added) {
    const n = speaker.addNeighbor(c);
    report.added.push(c.address);
    log(`reload: ${n.name} added${c.passive ? ', waiting for it to connect' : ', connecting'}`);
    n.start();
  }
  await Promise.all(removals);
  log(
    `reload: ${report.added.length} added, ${report.removed.length} removed, ${report.reset.length} reset, ` +
      `${report.softReset.length} soft reset, ${report.inPlace.length} changed in place, ${report.unchanged.length} unchanged`,
  );
  return report;
}

/** One changed neighbor: the least that applies its change. */
function applyChange(speaker: Speaker, n: Neighbor, change: NeighborChange): 'reset' | 'softReset' | 'inPlace' {
  const was: NeighborConfig = n.config;
  const what = `reload: ${n.name}: ${change.fields.join(', ')} changed`;
  const s = n.session;
  const up = n.established && s !== null;
  speaker.reconfigureNeighbor(n, change.next);
  const { kinds } = change;
  if (kinds.has('session')) {
    if (n.adminUp && n.state !== State.Idle) {
      log(`${what}: session reset (Cease / Other Configuration Change)`);
      n.clear(undefined, CeaseSubcode.OtherConfigurationChange);
      return 'reset';
    }
    log(`${what}: applied from its next session (${n.adminUp ? 'not connected now' : 'administratively down'})`);
    return 'inPlace';
  }
  if (!up) {
    if (kinds.has('max-prefix')) speaker.maxPrefixChanged(n);
    log(`${what}: applied from its next session (not Established now)`);
    return 'inPlace';
  }
  // A block limit raised: what the old limit kept out comes back only when sent again.
  const wasBlocking = kinds.has('max-prefix') && was.maxPrefix?.action === 'block';
  if ((kinds.has('import') || wasBlocking) && !s.routeRefresh) {
    log(`${what}: the peer did not announce route refresh: session reset (Cease / Administrative Reset)`);
    n.clear(undefined, CeaseSubcode.AdministrativeReset);
    return 'reset';
  }
  const done: string[] = [];
  if (kinds.has('max-prefix')) {
    speaker.maxPrefixChanged(n);
    done.push('max-prefix applied in place');
  }
  if (kinds.has('import') || wasBlocking) {
    const asked = s.families.filter((f) => n.requestRefresh(f));
    done.push(`ROUTE-REFRESH sent for ${asked.join(' ') || 'no family'} (soft reset in)`);
  }
  if (kinds.has('export') && speaker.resendExport(n)) done.push('Adj-RIB-Out recomputed and sent again (soft reset out)');
  log(`${what}: ${done.join('; ') || 'applied in place'}`);
  return kinds.has('import') || kinds.has('export') || wasBlocking ? 'softReset' : 'inPlace';
}
