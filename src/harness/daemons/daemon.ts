// What the daemon drivers (bird.ts, gobgp.ts, frr.ts, openbgpd.ts, exabgp.ts) have in common:
// the two shapes they start a daemon in and the contract each shape fulfils.
// - One neighbor (the interop tests): a loopback address of its own, a config with IPv4 + IPv6
//   unicast towards exactly one peer, and questions about that session through the daemon's
//   own CLI (`Daemon`, created by each driver's `create()`).
// - N passive IPv4 peers (the bench): the daemon as the router under test, passive towards
//   every load peer (`PassivePeers`, started by each driver's `startPassive()`).

import { CapabilityCode, capabilityName } from '../../packet/index.js';
import type { DaemonProcess } from './proc.js';

export interface DaemonPeer {
  /** The neighbor's address (ribstorm, or another daemon in a driver's self-test). */
  address: string;
  /** The neighbor's TCP port (the daemon connects there when it is active). */
  port: number;
  asn: number;
  /** True: the daemon never connects, it waits for the neighbor. */
  passive: boolean;
  /** Hold time the daemon offers, seconds (3..65535). */
  holdTime: number;
}

export interface DaemonOptions {
  /** A fresh directory for configs, sockets, pid files and logs; the driver creates it. */
  runDir: string;
  /** The daemon's own loopback address (127.0.0.x); it listens there on `port`. */
  address: string;
  port: number;
  asn: number;
  routerId: string;
  peer: DaemonPeer;
}

/** Capability names as the drivers normalise them (what the daemon's CLI reports). */
export type CapabilityName =
  | 'multiprotocol:ipv4-unicast'
  | 'multiprotocol:ipv6-unicast'
  | 'route-refresh'
  | 'enhanced-route-refresh'
  | 'asn4'
  | 'graceful-restart'
  | 'add-path'
  | 'extended-message'
  | 'role'
  | string;

export interface SessionView {
  /** True when the daemon's CLI reports the session Established. */
  established: boolean;
  /** The daemon's own state word, as its CLI prints it. */
  state: string;
  /** Capabilities the daemon says it advertised, normalised, or null if its CLI cannot tell. */
  localCapabilities: CapabilityName[] | null;
  /** Capabilities the daemon says it received from the neighbor, normalised, or null. */
  remoteCapabilities: CapabilityName[] | null;
  /** Negotiated hold time as the daemon reports it, or null. */
  holdTime: number | null;
  /**
   * Text of the last error or NOTIFICATION the daemon shows for this neighbor, including any
   * RFC 8203/9003 shutdown communication it received, or '' when none.
   */
  lastError: string;
}

/** A daemon with one neighbor, as the interop tests drive it. */
export interface Daemon {
  readonly name: 'bird' | 'gobgp' | 'frr' | 'openbgpd' | 'exabgp';
  /** Pid of the process the driver started (the leader of its process group). */
  readonly pid: number;
  /** Writes the config and starts the daemon; resolves once it listens / runs. */
  start(): Promise<void>;
  /** The session as the daemon's own CLI reports it. */
  session(): Promise<SessionView>;
  /**
   * How many KEEPALIVEs the daemon has received from the neighbor, by its own counter or log.
   * Only differences between calls mean anything (some drivers count from their first call).
   */
  keepalivesReceived(): Promise<number>;
  /** Makes the daemon send Cease / Administrative Shutdown carrying `text` to the neighbor. */
  shutdownPeer(text: string): Promise<void>;
  /** SIGSTOP / SIGCONT the daemon's whole process group (for hold-timer tests). */
  pause(): void;
  resume(): void;
  /** Stops the daemon by pid (SIGTERM, then SIGKILL after a grace period) and waits for exit. */
  stop(): Promise<void>;
}

/** A peer of the bench's shape. */
export interface PassivePeer {
  address: string;
  asn: number;
}

/** The bench's shape: the daemon listens on `address`:`port` and waits for every peer. */
export interface PassivePeers {
  address: string;
  port: number;
  asn: number;
  routerId: string;
  /**
   * Every peer connects to the daemon; it is passive towards all, IPv4 unicast only. The first
   * is the sink: the daemon sends it every best path, with itself as the next hop.
   */
  peers: PassivePeer[];
}

/** What the bench needs of a driver. */
export interface PassiveDriver {
  /** The Debian package that provides the daemon. */
  readonly PACKAGE: string;
  available(): boolean;
  /** Starts the daemon in `runDir` in the bench's shape; resolves once every peer can connect. */
  startPassive(runDir: string, o: PassivePeers): Promise<DaemonProcess>;
}

/**
 * A capability's name from its code (RFC 5492 registry), as the codec names it, for drivers
 * whose CLI shows only codes. Multiprotocol needs its family and is named by the driver.
 */
export function capabilityNameByCode(code: number): CapabilityName {
  if (code === CapabilityCode.Role) return 'role';
  const name = capabilityName({ code, data: new Uint8Array(0) });
  return name.startsWith('unknown-') ? `capability-${code}` : name;
}

/**
 * Why the daemon cannot run on this machine (its binaries are missing, or it needs privileges
 * the test run lacks), or null when it can. Drivers export it as `unavailable()`, and
 * `available()` as its negation.
 */
export type Unavailable = () => string | null;

/** The reason for a daemon whose binaries are missing. */
export const notInstalled = (pkg: string): string => `not installed (apt-get install ${pkg})`;

/**
 * Next hops a driver's daemon puts on the routes it originates or sends (set in its config, or
 * by the test through its CLI): eBGP next hop self would be its 127/8 address, which GoBGP
 * drops and FRR calls martian. 127.0.a.b -> 198.18.a.b (benchmarking range) and 2001:db8::a:b;
 * the IPv6 one also lets BIRD and OpenBGPD send IPv6 routes over an IPv4 session at all.
 */
export function nextHops(address: string): { ipv4: string; ipv6: string } {
  const [, , b, c] = address.split('.');
  return { ipv4: `198.18.${b}.${c}`, ipv6: `2001:db8::${b}:${c}` };
}
