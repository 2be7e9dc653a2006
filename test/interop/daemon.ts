import { CapabilityCode, capabilityName } from '../../src/packet/index.js';

// The contract every interop daemon driver (BIRD, GoBGP, FRR, OpenBGPD, ExaBGP) fulfils.
// A driver starts one instance of a real BGP daemon on a loopback address with a generated
// config, in its own run directory and process group, peered with exactly one neighbor,
// and answers questions about that session through the daemon's own CLI.

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
