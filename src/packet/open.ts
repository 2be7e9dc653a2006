// OPEN message (RFC 4271 §4.2), optional parameters (RFC 9072) and capabilities (RFC 5492).

import { ipv4FromBytes, ipv4ToBytes } from './address.js';
import {
  AddPathMode,
  AS_TRANS,
  BGP_VERSION,
  CapabilityCode,
  HEADER_LENGTH,
  MessageType,
  ROLE_NAMES,
} from './constants.js';
import { BgpError, ErrorCode, OpenSubcode } from './errors.js';
import { encodeMessage } from './header.js';

export interface Family {
  afi: number;
  safi: number;
}

export interface GracefulRestartCapability {
  code: CapabilityCode.GracefulRestart;
  /** R bit (restart state) and N bit (RFC 8538 notification support). */
  restarting: boolean;
  notification: boolean;
  restartTime: number;
  families: Array<Family & { forwardingPreserved: boolean }>;
}

export interface AddPathCapability {
  code: CapabilityCode.AddPath;
  families: Array<Family & { mode: AddPathMode }>;
}

export type Capability =
  | { code: CapabilityCode.Multiprotocol; afi: number; safi: number }
  | { code: CapabilityCode.RouteRefresh }
  | { code: CapabilityCode.EnhancedRouteRefresh }
  | { code: CapabilityCode.ExtendedMessage }
  | { code: CapabilityCode.FourOctetAs; asn: number }
  | { code: CapabilityCode.Role; role: number }
  | GracefulRestartCapability
  | AddPathCapability
  | { code: number; data: Uint8Array };

/** Capabilities are carried in optional parameter type 2; other parameter types are kept raw. */
export type OptionalParameter = { type: 2; capabilities: Capability[] } | { type: number; data: Uint8Array };

export interface OpenMessage {
  version: number;
  /** The 2-octet My Autonomous System field (AS_TRANS when the real AS needs 4 octets). */
  myAs: number;
  holdTime: number;
  bgpId: string;
  params: OptionalParameter[];
  /** True when the RFC 9072 extended optional parameters length was used. */
  extendedParams: boolean;
}

export function familyName(afi: number, safi: number): string {
  const a = afi === 1 ? 'ipv4' : afi === 2 ? 'ipv6' : `afi${afi}`;
  const s = safi === 1 ? 'unicast' : safi === 2 ? 'multicast' : `safi${safi}`;
  return `${a}-${s}`;
}

export function capabilitiesOf(open: OpenMessage): Capability[] {
  const out: Capability[] = [];
  for (const p of open.params) if (p.type === 2 && 'capabilities' in p) out.push(...p.capabilities);
  return out;
}

/** The peer's real AS: the 4-octet AS capability when present (RFC 6793 §4.1). */
export function peerAsOf(open: OpenMessage): number {
  const c = capabilitiesOf(open).find((c) => c.code === CapabilityCode.FourOctetAs) as { asn: number } | undefined;
  return c ? c.asn : open.myAs;
}

/** A short operator-facing name for a capability, e.g. "multiprotocol:ipv6-unicast". */
export function capabilityName(c: Capability): string {
  switch (c.code) {
    case CapabilityCode.Multiprotocol: {
      const m = c as { afi: number; safi: number };
      return `multiprotocol:${familyName(m.afi, m.safi)}`;
    }
    case CapabilityCode.RouteRefresh:
      return 'route-refresh';
    case CapabilityCode.EnhancedRouteRefresh:
      return 'enhanced-route-refresh';
    case CapabilityCode.ExtendedMessage:
      return 'extended-message';
    case CapabilityCode.FourOctetAs:
      return 'asn4';
    case CapabilityCode.GracefulRestart:
      return 'graceful-restart';
    case CapabilityCode.AddPath:
      return 'add-path';
    case CapabilityCode.Role:
      return `role:${ROLE_NAMES[(c as { role: number }).role] ?? (c as { role: number }).role}`;
    case CapabilityCode.ExtendedNextHop:
      return 'extended-nexthop';
    case CapabilityCode.LongLivedGracefulRestart:
      return 'long-lived-graceful-restart';
    case CapabilityCode.Fqdn:
      return 'fqdn';
    case CapabilityCode.SoftwareVersion:
      return 'software-version';
    case CapabilityCode.RouteRefreshCisco:
      return 'route-refresh-cisco';
    default:
      return `unknown-${c.code}`;
  }
}

function decodeCapability(code: number, v: Uint8Array): Capability {
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const bad = () => new BgpError(ErrorCode.OpenMessage, 0, undefined, `capability ${code} has length ${v.length}`);
  switch (code) {
    case CapabilityCode.Multiprotocol:
      if (v.length !== 4) throw bad();
      return { code, afi: dv.getUint16(0), safi: v[3] };
    case CapabilityCode.RouteRefresh:
    case CapabilityCode.EnhancedRouteRefresh:
    case CapabilityCode.ExtendedMessage:
      if (v.length !== 0) throw bad();
      return { code } as Capability;
    case CapabilityCode.FourOctetAs:
      if (v.length !== 4) throw bad();
      return { code, asn: dv.getUint32(0) };
    case CapabilityCode.Role:
      if (v.length !== 1) throw bad();
      return { code, role: v[0] };
    case CapabilityCode.GracefulRestart: {
      if (v.length < 2 || (v.length - 2) % 4 !== 0) throw bad();
      const w = dv.getUint16(0);
      const families = [];
      for (let o = 2; o < v.length; o += 4) {
        families.push({ afi: dv.getUint16(o), safi: v[o + 2], forwardingPreserved: (v[o + 3] & 0x80) !== 0 });
      }
      return { code, restarting: (w & 0x8000) !== 0, notification: (w & 0x4000) !== 0, restartTime: w & 0x0fff, families };
    }
    case CapabilityCode.AddPath: {
      if (v.length % 4 !== 0) throw bad();
      const families = [];
      for (let o = 0; o < v.length; o += 4) families.push({ afi: dv.getUint16(o), safi: v[o + 2], mode: v[o + 3] });
      return { code, families };
    }
    default:
      return { code, data: v.slice() };
  }
}

function encodeCapabilityValue(c: Capability): Uint8Array {
  switch (c.code) {
    case CapabilityCode.Multiprotocol: {
      const m = c as { afi: number; safi: number };
      return Uint8Array.of(m.afi >> 8, m.afi & 0xff, 0, m.safi);
    }
    case CapabilityCode.RouteRefresh:
    case CapabilityCode.EnhancedRouteRefresh:
    case CapabilityCode.ExtendedMessage:
      if ('data' in c) return c.data;
      return new Uint8Array(0);
    case CapabilityCode.FourOctetAs: {
      const out = new Uint8Array(4);
      new DataView(out.buffer).setUint32(0, (c as { asn: number }).asn >>> 0);
      return out;
    }
    case CapabilityCode.Role:
      return Uint8Array.of((c as { role: number }).role);
    case CapabilityCode.GracefulRestart: {
      const g = c as GracefulRestartCapability;
      const out = new Uint8Array(2 + 4 * g.families.length);
      const dv = new DataView(out.buffer);
      dv.setUint16(0, (g.restarting ? 0x8000 : 0) | (g.notification ? 0x4000 : 0) | (g.restartTime & 0x0fff));
      g.families.forEach((f, i) => {
        dv.setUint16(2 + i * 4, f.afi);
        out[4 + i * 4] = f.safi;
        out[5 + i * 4] = f.forwardingPreserved ? 0x80 : 0;
      });
      return out;
    }
    case CapabilityCode.AddPath: {
      const a = c as AddPathCapability;
      const out = new Uint8Array(4 * a.families.length);
      a.families.forEach((f, i) => {
        out[i * 4] = f.afi >> 8;
        out[i * 4 + 1] = f.afi & 0xff;
        out[i * 4 + 2] = f.safi;
        out[i * 4 + 3] = f.mode;
      });
      return out;
    }
    default:
      return (c as { data: Uint8Array }).data;
  }
}

function decodeCapabilities(v: Uint8Array): Capability[] {
  const caps: Capability[] = [];
  let p = 0;
  while (p < v.length) {
    if (p + 2 > v.length) throw new BgpError(ErrorCode.OpenMessage, 0, undefined, 'truncated capability');
    const code = v[p];
    const len = v[p + 1];
    if (p + 2 + len > v.length) throw new BgpError(ErrorCode.OpenMessage, 0, undefined, 'capability overruns its parameter');
    caps.push(decodeCapability(code, v.subarray(p + 2, p + 2 + len)));
    p += 2 + len;
  }
  return caps;
}

/**
 * Decodes an OPEN message (header included). Structural problems become the NOTIFICATION
 * RFC 4271 §6.2 prescribes; semantic checks (peer AS, hold time, identifier) are the
 * neighbor's, see validateOpen.
 */
export function decodeOpen(msg: Uint8Array): OpenMessage {
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const b = HEADER_LENGTH;
  const version = msg[b];
  if (version !== BGP_VERSION) {
    throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.UnsupportedVersionNumber, Uint8Array.of(0, BGP_VERSION));
  }
  const myAs = dv.getUint16(b + 1);
  const holdTime = dv.getUint16(b + 3);
  const bgpId = ipv4FromBytes(msg, b + 5);
  let optLen = msg[b + 9];
  let p = b + 10;
  let extendedParams = false;
  // RFC 9072 §2: a length of 255 followed by parameter type 255 announces the extended form.
  if (optLen === 255 && msg[p] === 255) {
    if (p + 3 > msg.length) throw new BgpError(ErrorCode.OpenMessage, 0, undefined, 'truncated extended parameters length');
    extendedParams = true;
    optLen = dv.getUint16(p + 1);
    p += 3;
  }
  const end = p + optLen;
  if (end !== msg.length) {
    throw new BgpError(ErrorCode.OpenMessage, 0, undefined, `optional parameters length ${optLen} does not match the message`);
  }
  const params: OptionalParameter[] = [];
  while (p < end) {
    const hdr = extendedParams ? 3 : 2;
    if (p + hdr > end) throw new BgpError(ErrorCode.OpenMessage, 0, undefined, 'truncated optional parameter');
    const type = msg[p];
    const len = extendedParams ? dv.getUint16(p + 1) : msg[p + 1];
    p += hdr;
    if (p + len > end) throw new BgpError(ErrorCode.OpenMessage, 0, undefined, 'optional parameter overruns the message');
    const value = msg.subarray(p, p + len);
    if (type === 2) params.push({ type: 2, capabilities: decodeCapabilities(value) });
    else params.push({ type, data: value.slice() });
    p += len;
  }
  return { version, myAs, holdTime, bgpId, params, extendedParams };
}

export function encodeOpen(open: OpenMessage): Uint8Array {
  const values = open.params.map((p) => {
    if ('capabilities' in p) {
      const parts = p.capabilities.map((c) => {
        const v = encodeCapabilityValue(c);
        const out = new Uint8Array(2 + v.length);
        out[0] = c.code;
        out[1] = v.length;
        out.set(v, 2);
        return out;
      });
      return { type: p.type, value: concat(parts) };
    }
    return { type: p.type, value: p.data };
  });
  const needsExtended = open.extendedParams || values.some((v) => v.value.length > 255) ||
    values.reduce((s, v) => s + 2 + v.value.length, 0) > 255;
  const hdr = needsExtended ? 3 : 2;
  const optLen = values.reduce((s, v) => s + hdr + v.value.length, 0);
  const body = new Uint8Array(10 + (needsExtended ? 3 : 0) + optLen);
  const dv = new DataView(body.buffer);
  body[0] = open.version;
  dv.setUint16(1, open.myAs);
  dv.setUint16(3, open.holdTime);
  body.set(ipv4ToBytes(open.bgpId), 5);
  let p = 10;
  if (needsExtended) {
    body[9] = 255;
    body[10] = 255;
    dv.setUint16(11, optLen);
    p = 13;
  } else {
    body[9] = optLen;
  }
  for (const v of values) {
    body[p] = v.type;
    if (needsExtended) dv.setUint16(p + 1, v.value.length);
    else body[p + 1] = v.value.length;
    body.set(v.value, p + hdr);
    p += hdr + v.value.length;
  }
  return encodeMessage(MessageType.OPEN, body);
}

/** Builds our OPEN: 2-octet AS field, AS_TRANS when needed, all capabilities in one parameter. */
export function buildOpen(asn: number, holdTime: number, bgpId: string, capabilities: Capability[]): OpenMessage {
  return {
    version: BGP_VERSION,
    myAs: asn > 0xffff ? AS_TRANS : asn,
    holdTime,
    bgpId,
    params: capabilities.length ? [{ type: 2, capabilities }] : [],
    extendedParams: false,
  };
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
