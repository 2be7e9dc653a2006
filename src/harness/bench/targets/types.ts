// What a bench target is: the router under test, the options it starts from and the load it is
// sized for. The shape is the daemon drivers' "N passive IPv4 peers" (daemons/daemon.ts).

import type { PassivePeer, PassivePeers } from '../../daemons/daemon.js';

export type TargetPeer = PassivePeer;

export interface TargetOptions extends PassivePeers {
  /** ribstorm only: RIB worker threads. */
  workers?: number;
  /** ribstorm only: what the run loads, to size its RIB from (absent: the defaults). */
  load?: TargetLoad;
  /** ribstorm only: where its management API listens (absent: off). */
  api?: { address: string; port: number };
  /** ribstorm only: route data it writes out while it runs (absent: none). */
  dataOut?: DataOut;
  /** ribstorm only: BMP stations it exports to ("ADDR:PORT"). */
  bmp?: string[];
  /** ribstorm only: collector mode (`[rib] mode = "collector"`): Adj-RIB-In only, nothing advertised. */
  collector?: boolean;
  /** ribstorm only: publish to NATS JetStream as this collector (absent: no feed). */
  nats?: { url: string; collector: string; stream?: string };
}

/** Route data out a run may measure ribstorm with: `mrt`, update logs of every UPDATE received. */
export const DATA_OUT = ['mrt'] as const;
export type DataOut = (typeof DATA_OUT)[number];

/** What a run puts into a target at most. */
export interface TargetLoad {
  /** Distinct IPv4 / IPv6 prefixes. */
  prefixes: number;
  prefixes6: number;
  /** Paths over all sending peers. */
  paths: number;
  /** Distinct attribute sets over all sending peers. */
  attributeSets: number;
}

export interface Target {
  readonly name: string;
  readonly pid: number;
  start(): Promise<void>;
  /** Peak resident set (VmHWM) in bytes. */
  peakRss(): number;
  /** User + system CPU seconds used so far. */
  cpuSeconds(): number;
  /** What the target logged (after stop: as it was then); '' when it keeps no log. */
  log?(): string;
  stop(): Promise<void>;
}

export const TARGET_KINDS = ['ribstorm', 'ribstorm-collector', 'bird', 'gobgp', 'frr', 'openbgpd'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/**
 * ribstorm in collector mode: it advertises nothing, so a run has no receiving peer and is
 * measured until its RIB holds every path (convergence.ts, heldPaths.ts).
 */
export const COLLECTOR_TARGET = 'ribstorm-collector';
export const isCollectorTarget = (kind: TargetKind | string): boolean => kind === COLLECTOR_TARGET;
