// What we put in our OPEN, how we judge the peer's (RFC 4271 §6.2, RFC 5492, RFC 9234),
// and what the two together negotiate.

import type { NeighborConfig, RoleName } from '../config/schema.js';
import {
  AddPathMode,
  BgpError,
  buildOpen,
  capabilitiesOf,
  CapabilityCode,
  capabilityName,
  ErrorCode,
  familyName,
  ipv4ToNumber,
  OpenSubcode,
  peerAsOf,
  Role,
  type AddPathCapability,
  type Capability,
  type Family,
  type GracefulRestartCapability,
  type OpenMessage,
} from '../packet/index.js';

const FAMILY: Record<string, Family> = {
  'ipv4-unicast': { afi: 1, safi: 1 },
  'ipv6-unicast': { afi: 2, safi: 1 },
};

const ROLE_VALUE: Record<RoleName, Role> = {
  provider: Role.Provider,
  customer: Role.Customer,
  peer: Role.Peer,
  'rs-server': Role.RouteServer,
  'rs-client': Role.RouteServerClient,
};

/** RFC 9234 §4.2: the role each local role expects to see on the other side. */
const EXPECTED_PEER_ROLE: Record<Role, Role> = {
  [Role.Provider]: Role.Customer,
  [Role.Customer]: Role.Provider,
  [Role.Peer]: Role.Peer,
  [Role.RouteServer]: Role.RouteServerClient,
  [Role.RouteServerClient]: Role.RouteServer,
};

export interface LocalIdentity {
  asn: number;
  routerId: string;
}

export function localCapabilities(local: LocalIdentity, n: NeighborConfig): Capability[] {
  const asn = n.localAs ?? local.asn;
  const families = n.families.map((f) => FAMILY[f]);
  const caps: Capability[] = families.map((f) => ({ code: CapabilityCode.Multiprotocol, afi: f.afi, safi: f.safi }));
  if (n.routeRefresh) {
    caps.push({ code: CapabilityCode.RouteRefresh } as Capability);
    caps.push({ code: CapabilityCode.EnhancedRouteRefresh } as Capability);
  }
  caps.push({ code: CapabilityCode.FourOctetAs, asn });
  if (n.gracefulRestart.enabled) {
    // A receiving speaker (RFC 4724 §3): we keep no forwarding state of our own across restarts.
    const gr: GracefulRestartCapability = {
      code: CapabilityCode.GracefulRestart,
      restarting: false,
      notification: false,
      restartTime: n.gracefulRestart.restartTime,
      families: [],
    };
    caps.push(gr);
  }
  if (n.addPath !== 'off') {
    const mode = n.addPath === 'receive' ? AddPathMode.Receive : n.addPath === 'send' ? AddPathMode.Send : AddPathMode.Both;
    const ap: AddPathCapability = { code: CapabilityCode.AddPath, families: families.map((f) => ({ ...f, mode })) };
    caps.push(ap);
  }
  if (n.extendedMessage) caps.push({ code: CapabilityCode.ExtendedMessage } as Capability);
  if (n.role) caps.push({ code: CapabilityCode.Role, role: ROLE_VALUE[n.role] });
  return caps;
}

export function localOpen(local: LocalIdentity, n: NeighborConfig): OpenMessage {
  return buildOpen(n.localAs ?? local.asn, n.holdTime, local.routerId, localCapabilities(local, n));
}

/** What the two OPENs negotiated for the life of one session. */
export interface NegotiatedSession {
  peerAs: number;
  peerId: string;
  /** Seconds; 0 means no keepalives and no hold timer. */
  holdTime: number;
  keepalive: number;
  asn4: boolean;
  families: string[];
  routeRefresh: boolean;
  enhancedRouteRefresh: boolean;
  extendedMessage: boolean;
  /** RFC 7911 per family: we receive path identifiers / we send them. */
  addPathReceive: string[];
  addPathSend: string[];
  /** The peer's graceful restart capability, if it sent one. */
  peerGracefulRestart: GracefulRestartCapability | null;
  peerRole: number | null;
  ebgp: boolean;
  localCapabilities: string[];
  remoteCapabilities: string[];
}

/**
 * Checks the peer's OPEN against the neighbor's configuration and throws the NOTIFICATION
 * RFC 4271 §6.2 / RFC 9234 §4.2 prescribe when it is unacceptable.
 */
export function validateOpen(open: OpenMessage, local: LocalIdentity, n: NeighborConfig): void {
  for (const p of open.params) {
    if (p.type !== 2) throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.UnsupportedOptionalParameter, undefined, `parameter type ${p.type}`);
  }
  const peerAs = peerAsOf(open);
  if (peerAs !== n.remoteAs) {
    const data = Uint8Array.of(open.myAs >> 8, open.myAs & 0xff);
    throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.BadPeerAs, data, `peer says AS ${peerAs}, configured ${n.remoteAs}`);
  }
  if (open.holdTime === 1 || open.holdTime === 2) {
    throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.UnacceptableHoldTime, undefined, `hold time ${open.holdTime}`);
  }
  const id = ipv4ToNumber(open.bgpId);
  const ibgp = peerAs === (n.localAs ?? local.asn);
  // RFC 6286 §2.2: identifiers must differ only within one AS.
  if (id === 0 || (ibgp && open.bgpId === local.routerId)) {
    throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.BadBgpIdentifier, undefined, `identifier ${open.bgpId}`);
  }
  if (n.role) {
    const roleCap = capabilitiesOf(open).filter((c) => c.code === CapabilityCode.Role) as Array<{ role: number }>;
    const mismatch = roleCap.length > 1 ||
      (roleCap.length === 1 && roleCap[0].role !== EXPECTED_PEER_ROLE[ROLE_VALUE[n.role]]) ||
      (roleCap.length === 0 && n.roleStrict);
    if (mismatch) {
      const got = roleCap.length ? roleCap.map((c) => c.role).join(',') : 'none';
      throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.RoleMismatch, undefined, `local role ${n.role}, peer role ${got}`);
    }
  }
}

const key = (afi: number, safi: number) => familyName(afi, safi);

export function negotiate(ours: OpenMessage, theirs: OpenMessage, local: LocalIdentity, n: NeighborConfig): NegotiatedSession {
  const mine = capabilitiesOf(ours);
  const peer = capabilitiesOf(theirs);
  const has = (caps: Capability[], code: number) => caps.some((c) => c.code === code);
  const mp = (caps: Capability[]) => {
    const list = caps.filter((c) => c.code === CapabilityCode.Multiprotocol) as Array<{ afi: number; safi: number }>;
    // RFC 4760 §8: a speaker that sends no multiprotocol capability speaks IPv4 unicast only.
    return list.length ? list.map((c) => key(c.afi, c.safi)) : ['ipv4-unicast'];
  };
  const peerMp = new Set(mp(peer));
  const families = mp(mine).filter((f) => peerMp.has(f));
  const addPath = (caps: Capability[]) => {
    const ap = caps.find((c) => c.code === CapabilityCode.AddPath) as AddPathCapability | undefined;
    return new Map((ap?.families ?? []).map((f) => [key(f.afi, f.safi), f.mode]));
  };
  const myAp = addPath(mine);
  const peerAp = addPath(peer);
  const canReceive = (m?: number) => m === AddPathMode.Receive || m === AddPathMode.Both;
  const canSend = (m?: number) => m === AddPathMode.Send || m === AddPathMode.Both;
  const holdTime = Math.min(ours.holdTime, theirs.holdTime);
  // A configured keepalive never exceeds a third of the negotiated hold time; 0 sends none.
  const third = Math.max(1, Math.floor(holdTime / 3));
  const keepalive = holdTime === 0 || n.keepalive === 0 ? 0 : Math.min(n.keepalive ?? third, third);
  const peerAs = peerAsOf(theirs);
  const roleCap = peer.find((c) => c.code === CapabilityCode.Role) as { role: number } | undefined;
  return {
    peerAs,
    peerId: theirs.bgpId,
    holdTime,
    keepalive,
    asn4: has(mine, CapabilityCode.FourOctetAs) && has(peer, CapabilityCode.FourOctetAs),
    families,
    routeRefresh: has(peer, CapabilityCode.RouteRefresh) || has(peer, CapabilityCode.RouteRefreshCisco),
    enhancedRouteRefresh: has(mine, CapabilityCode.EnhancedRouteRefresh) && has(peer, CapabilityCode.EnhancedRouteRefresh),
    extendedMessage: has(mine, CapabilityCode.ExtendedMessage) && has(peer, CapabilityCode.ExtendedMessage),
    addPathReceive: families.filter((f) => canReceive(myAp.get(f)) && canSend(peerAp.get(f))),
    addPathSend: families.filter((f) => canSend(myAp.get(f)) && canReceive(peerAp.get(f))),
    peerGracefulRestart: (peer.find((c) => c.code === CapabilityCode.GracefulRestart) as GracefulRestartCapability) ?? null,
    peerRole: roleCap?.role ?? null,
    ebgp: peerAs !== (n.localAs ?? local.asn),
    localCapabilities: mine.map(capabilityName),
    remoteCapabilities: peer.map(capabilityName),
  };
}
