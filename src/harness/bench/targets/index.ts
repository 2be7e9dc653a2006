// The routers a convergence run measures: ribstorm itself (`ribstorm run` as a child process)
// or BIRD, GoBGP, FRR's bgpd or OpenBGPD from their Debian packages, each started with a
// generated config on loopback in its own process group (and run directory), stopped by pid or
// process group, and read for peak RSS and CPU time from /proc.

import { BirdTarget, birdAvailable } from './bird.js';
import { FrrTarget, frrAvailable } from './frr.js';
import { GoBgpTarget, gobgpAvailable } from './gobgp.js';
import { OpenBgpdTarget, openbgpdAvailable } from './openbgpd.js';
import { RibstormTarget } from './ribstorm.js';
import type { Target, TargetKind, TargetOptions } from './types.js';

export { TARGET_KINDS, type Target, type TargetKind, type TargetLoad, type TargetOptions, type TargetPeer } from './types.js';
export { procCpu, procStatus } from './proc.js';
export { ribstormConfig, ribstormRib } from './ribstorm.js';

/** The Debian package that provides a target (null: built in). */
export const TARGET_PACKAGES: Record<TargetKind, string | null> = {
  ribstorm: null,
  bird: 'bird2',
  gobgp: 'gobgpd',
  frr: 'frr',
  openbgpd: 'openbgpd',
};

export function targetAvailable(kind: TargetKind): boolean {
  switch (kind) {
    case 'ribstorm':
      return true;
    case 'bird':
      return birdAvailable();
    case 'gobgp':
      return gobgpAvailable();
    case 'frr':
      return frrAvailable();
    case 'openbgpd':
      return openbgpdAvailable();
  }
}

export function createTarget(kind: TargetKind, o: TargetOptions): Target {
  switch (kind) {
    case 'ribstorm':
      return new RibstormTarget(o);
    case 'bird':
      return new BirdTarget(o);
    case 'gobgp':
      return new GoBgpTarget(o);
    case 'frr':
      return new FrrTarget(o);
    case 'openbgpd':
      return new OpenBgpdTarget(o);
  }
}
