// The routers a convergence run measures: ribstorm itself (`ribstorm run` as a child process,
// ribstorm.ts; `ribstorm-collector` the same in collector mode) or BIRD, GoBGP, FRR's bgpd or OpenBGPD from their Debian packages, each started
// by its driver in daemons/ in the shape of N passive IPv4 peers, on loopback in its own
// process group and run directory (process.ts).

import * as bird from '../../daemons/bird.js';
import type { PassiveDriver } from '../../daemons/daemon.js';
import * as frr from '../../daemons/frr.js';
import * as gobgp from '../../daemons/gobgp.js';
import * as openbgpd from '../../daemons/openbgpd.js';
import { ProcessTarget } from './process.js';
import { startRibstorm } from './ribstorm.js';
import type { Target, TargetKind, TargetOptions } from './types.js';

export { COLLECTOR_TARGET, DATA_OUT, isCollectorTarget, TARGET_KINDS, type DataOut, type Target, type TargetKind, type TargetLoad, type TargetOptions, type TargetPeer } from './types.js';
export { ribstormConfig, ribstormRib } from './ribstorm.js';

const DRIVERS: Record<Exclude<TargetKind, 'ribstorm' | 'ribstorm-collector'>, PassiveDriver> = { bird, gobgp, frr, openbgpd };

/** The Debian package that provides a target (null: built in). */
export const TARGET_PACKAGES: Record<TargetKind, string | null> = {
  ribstorm: null,
  'ribstorm-collector': null,
  bird: bird.PACKAGE,
  gobgp: gobgp.PACKAGE,
  frr: frr.PACKAGE,
  openbgpd: openbgpd.PACKAGE,
};

export function targetAvailable(kind: TargetKind): boolean {
  return kind === 'ribstorm' || kind === 'ribstorm-collector' || DRIVERS[kind].available();
}

export function createTarget(kind: TargetKind, o: TargetOptions): Target {
  if (kind === 'ribstorm') return new ProcessTarget(kind, (dir) => startRibstorm(dir, o));
  if (kind === 'ribstorm-collector') return new ProcessTarget(kind, (dir) => startRibstorm(dir, { ...o, collector: true }));
  const driver = DRIVERS[kind];
  return new ProcessTarget(kind, (dir) => driver.startPassive(dir, o));
}
