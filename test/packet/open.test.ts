import { describe, expect, it } from 'vitest';
import {
  AddPathMode,
  AS_TRANS,
  BgpError,
  buildOpen,
  capabilitiesOf,
  capabilityName,
  CapabilityCode,
  decodeOpen,
  encodeOpen,
  peerAsOf,
  Role,
  type Capability,
} from '../../src/packet/index.js';

const allCaps: Capability[] = [
  { code: CapabilityCode.Multiprotocol, afi: 1, safi: 1 },
  { code: CapabilityCode.Multiprotocol, afi: 2, safi: 1 },
  { code: CapabilityCode.RouteRefresh } as Capability,
  { code: CapabilityCode.EnhancedRouteRefresh } as Capability,
  { code: CapabilityCode.FourOctetAs, asn: 4200000001 },
  {
    code: CapabilityCode.GracefulRestart,
    restarting: true,
    notification: true,
    restartTime: 120,
    families: [{ afi: 1, safi: 1, forwardingPreserved: true }],
  },
  { code: CapabilityCode.AddPath, families: [{ afi: 1, safi: 1, mode: AddPathMode.Both }, { afi: 2, safi: 1, mode: AddPathMode.Receive }] },
  { code: CapabilityCode.ExtendedMessage } as Capability,
  { code: CapabilityCode.Role, role: Role.Customer },
  { code: 73, data: Uint8Array.of(3, 0x72, 0x74, 0x72, 0) },
];

describe('OPEN (RFC 4271 §4.2, RFC 5492)', () => {
  it('round-trips every capability, unknown ones kept as bytes', () => {
    const open = buildOpen(4200000001, 90, '10.0.0.1', allCaps);
    const bytes = encodeOpen(open);
    const back = decodeOpen(bytes);
    expect(back).toEqual(open);
    expect(encodeOpen(back)).toEqual(bytes);
    expect(capabilitiesOf(back).map(capabilityName)).toEqual([
      'multiprotocol:ipv4-unicast', 'multiprotocol:ipv6-unicast', 'route-refresh', 'enhanced-route-refresh',
      'asn4', 'graceful-restart', 'add-path', 'extended-message', 'role:customer', 'fqdn',
    ]);
  });

  it('puts AS_TRANS in My AS for a 4-octet AS and reads the real AS from the capability (RFC 6793)', () => {
    const open = decodeOpen(encodeOpen(buildOpen(4200000001, 90, '10.0.0.1', allCaps)));
    expect(open.myAs).toBe(AS_TRANS);
    expect(peerAsOf(open)).toBe(4200000001);
    const small = decodeOpen(encodeOpen(buildOpen(65001, 90, '10.0.0.1', [])));
    expect(small.myAs).toBe(65001);
    expect(peerAsOf(small)).toBe(65001);
  });

  it('switches to the RFC 9072 extended parameters length when parameters exceed 255 octets', () => {
    const many: Capability[] = Array.from({ length: 70 }, (_, i) => ({ code: 200, data: Uint8Array.of(i, i) }));
    const open = buildOpen(65001, 90, '10.0.0.1', many);
    const bytes = encodeOpen(open);
    expect(bytes[28]).toBe(255); // Non-Ext OP Len
    expect(bytes[29]).toBe(255); // Non-Ext OP Type
    const back = decodeOpen(bytes);
    expect(back.extendedParams).toBe(true);
    expect(capabilitiesOf(back)).toHaveLength(70);
    expect(encodeOpen(back)).toEqual(bytes);
  });

  it('answers an unsupported version with its own subcode and our version', () => {
    const bytes = encodeOpen(buildOpen(65001, 90, '10.0.0.1', []));
    bytes[19] = 3;
    try {
      decodeOpen(bytes);
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(BgpError);
      expect([(e as BgpError).code, (e as BgpError).subcode, ...(e as BgpError).data]).toEqual([2, 1, 0, 4]);
    }
  });

  it('rejects a capability that overruns its parameter', () => {
    const bytes = encodeOpen(buildOpen(65001, 90, '10.0.0.1', [{ code: CapabilityCode.FourOctetAs, asn: 1 }]));
    bytes[bytes.length - 5] = 9; // capability length 4 -> 9
    expect(() => decodeOpen(bytes)).toThrow(BgpError);
  });
});
