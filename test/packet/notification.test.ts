import { describe, expect, it } from 'vitest';
import {
  cease,
  CeaseSubcode,
  decodeNotification,
  decodeRouteRefresh,
  describeNotification,
  encodeNotification,
  encodeRouteRefresh,
  errorName,
  RouteRefreshSubtype,
  shutdownCommunication,
} from '../../src/packet/index.js';

describe('NOTIFICATION (RFC 4271 §4.5) and shutdown communication (RFC 9003)', () => {
  it('round-trips a Cease with a shutdown communication', () => {
    const n = cease(CeaseSubcode.AdministrativeShutdown, 'maintenance window, back at 14:00 — ticket #42');
    const back = decodeNotification(encodeNotification(n));
    expect(back).toEqual(n);
    expect(shutdownCommunication(back)).toBe('maintenance window, back at 14:00 — ticket #42');
    expect(describeNotification(back)).toBe('Cease / Administrative Shutdown (6/2) "maintenance window, back at 14:00 — ticket #42"');
  });

  it('cuts a long communication to 255 octets without splitting a UTF-8 character', () => {
    const text = 'é'.repeat(200); // 400 octets
    const n = cease(CeaseSubcode.AdministrativeReset, text);
    expect(n.data[0]).toBe(254);
    expect(shutdownCommunication(n)).toBe('é'.repeat(127));
  });

  it('shows invalid UTF-8 as data, not text', () => {
    const n = { code: 6, subcode: 2, data: Uint8Array.of(2, 0xff, 0xfe) };
    expect(shutdownCommunication(n)).toBeNull();
    expect(describeNotification(n)).toMatch(/data 02fffe/);
  });

  it('names codes and subcodes from RFC 4271, 4486, 6608, 9234 and 9687', () => {
    expect(errorName(5, 3)).toBe('Finite State Machine Error / Receive Unexpected Message in Established State');
    expect(errorName(6, 7)).toBe('Cease / Connection Collision Resolution');
    expect(errorName(2, 11)).toBe('OPEN Message Error / Role Mismatch');
    expect(errorName(8, 0)).toBe('Send Hold Timer Expired');
  });
});

describe('ROUTE-REFRESH (RFC 2918, RFC 7313)', () => {
  it('round-trips normal, BoRR and EoRR', () => {
    for (const subtype of [RouteRefreshSubtype.Normal, RouteRefreshSubtype.BoRR, RouteRefreshSubtype.EoRR]) {
      const m = encodeRouteRefresh({ afi: 2, safi: 1, subtype });
      expect(m.length).toBe(23);
      expect(decodeRouteRefresh(m)).toEqual({ afi: 2, safi: 1, subtype });
    }
  });
});
