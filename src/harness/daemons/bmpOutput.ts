// Reading pmbmpd's message log (`bmp_daemon_msglog_output: json`, one object per line): the
// events as logged, and the routes a station holds after replaying them: Route Monitoring
// announcements and withdrawals per monitored peer (and the Loc-RIB instance, peer type 3),
// a peer's routes gone with its Peer Down. Pure functions over text.

import { readFileSync } from 'node:fs';

/** One logged message: `bmp_msg_type` is init, term, peer_up, peer_down, stats or route_monitor. */
export interface BmpLogEvent {
  bmp_msg_type?: string;
  log_type?: string;
  peer_ip?: string;
  peer_asn?: number;
  peer_type?: number;
  is_post?: number;
  is_loc?: number;
  ip_prefix?: string;
  bgp_nexthop?: string;
  as_path?: string;
  as_path_id?: number;
  reason_type?: number;
  [key: string]: unknown;
}

/** The lines of the message log as objects (a line cut short at the end is left out). */
export function readBmpLog(file: string): BmpLogEvent[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: BmpLogEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as BmpLogEvent);
    } catch {
      // the writer's last line, still being written
    }
  }
  return out;
}

export interface StationRoute {
  prefix: string;
  pathId: number;
  nextHop: string;
  asPath: string;
}

/**
 * What the station holds per table after the log: key "PEER" (a neighbor's pre-policy
 * Adj-RIB-In, by its address) or "loc-rib", then prefix#pathId -> the route.
 */
export function stationTables(events: readonly BmpLogEvent[]): Map<string, Map<string, StationRoute>> {
  const tables = new Map<string, Map<string, StationRoute>>();
  const table = (e: BmpLogEvent) => {
    const k = e.is_loc ? 'loc-rib' : (e.peer_ip ?? '');
    let t = tables.get(k);
    if (!t) tables.set(k, (t = new Map()));
    return t;
  };
  for (const e of events) {
    if (e.bmp_msg_type === 'peer_down') tables.delete(e.is_loc ? 'loc-rib' : (e.peer_ip ?? ''));
    if (e.bmp_msg_type === 'peer_up') table(e);
    if (e.bmp_msg_type !== 'route_monitor' || !e.ip_prefix) continue;
    const key = `${e.ip_prefix}#${e.as_path_id ?? 0}`;
    if (e.log_type === 'update') {
      table(e).set(key, { prefix: e.ip_prefix, pathId: e.as_path_id ?? 0, nextHop: e.bgp_nexthop ?? '', asPath: e.as_path ?? '' });
    } else if (e.log_type === 'withdraw') table(e).delete(key);
  }
  return tables;
}
