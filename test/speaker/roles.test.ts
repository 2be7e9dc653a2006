// BGP roles and Only to Customer (RFC 9234). `role` is ribstorm's own role on the session.
// §4.2: a role pair that does not match, or (strict mode) no role from the peer, is answered
// with NOTIFICATION OPEN Message Error / Role Mismatch (2/11).
// §5 ingress: a route with OTC from a customer or an RS-client, or from a peer with an OTC other
// than the peer's AS, is a route leak and ineligible; a route from a provider, peer or route
// server without OTC gets OTC = the neighbor's AS.
// §5 egress: a route with OTC is not sent to a provider, peer or route server; a route sent to
// a customer, peer or RS-client without OTC gets OTC = our AS.
import { beforeAll, describe, expect, it } from 'vitest';
import { State } from '../../src/neighbor/fsm.js';
import { AttrType, CapabilityCode, capabilitiesOf, decodeOpen, MessageType, Role, type Capability } from '../../src/packet/index.js';
import { captureLog, defaultCaps, sleep, until } from '../helpers/rawPeer.js';
import { announce, attrs, get, LOCAL_AS, OPEN_POLICY, otc, startLab, Table, useCleanup } from '../helpers/lab.js';

const RS = '127.0.42.1';
const add = useCleanup();
beforeAll(() => {
  captureLog();
});

const withRole = (asn: number, role: Role): Capability[] => [...defaultCaps(asn), { code: CapabilityCode.Role, role }];

describe('BGP roles in OPEN (RFC 9234 §4)', () => {
  it('answers a role pair that does not match with Role Mismatch (2/11)', async () => {
    const lab = await startLab(add, RS, [
      { address: '127.0.42.2', 'remote-as': 65422, role: 'provider', ...OPEN_POLICY },
      { address: '127.0.42.3', 'remote-as': 65423, role: 'peer', 'role-strict': true, ...OPEN_POLICY },
      { address: '127.0.42.4', 'remote-as': 65424, role: 'rs-server', ...OPEN_POLICY },
    ]);
    // We are its provider, so it must say customer; it says peer.
    const a = await lab.connect('127.0.42.2', 65422, withRole(65422, Role.Peer));
    const na = await a.notification();
    expect([na.code, na.subcode]).toEqual([2, 11]);
    // peer/provider is no pair either.
    const b = await lab.connect('127.0.42.3', 65423, withRole(65423, Role.Provider));
    const nb = await b.notification();
    expect([nb.code, nb.subcode]).toEqual([2, 11]);
    // A route server's partner is an RS-client, not another route server.
    const c = await lab.connect('127.0.42.4', 65424, withRole(65424, Role.RouteServer));
    const nc = await c.notification();
    expect([nc.code, nc.subcode]).toEqual([2, 11]);
    for (const addr of ['127.0.42.2', '127.0.42.3', '127.0.42.4']) expect(lab.state(addr)).not.toBe(State.Established);
  });

  it('in strict mode, answers an OPEN without a role with Role Mismatch; without strict mode, goes on', async () => {
    const lab = await startLab(add, RS, [
      { address: '127.0.42.5', 'remote-as': 65425, role: 'customer', 'role-strict': true, ...OPEN_POLICY },
      { address: '127.0.42.6', 'remote-as': 65426, role: 'customer', ...OPEN_POLICY },
    ]);
    const strict = await lab.connect('127.0.42.5', 65425);
    const n = await strict.notification();
    expect([n.code, n.subcode]).toEqual([2, 11]);
    expect(lab.state('127.0.42.5')).not.toBe(State.Established);
    await lab.peer('127.0.42.6', 65426);
    expect(lab.speaker.neighbors.get('127.0.42.6')!.session!.peerRole).toBeNull();
  });

  it('sends its own role and comes up when the pair matches', async () => {
    const lab = await startLab(add, RS, [
      { address: '127.0.42.7', 'remote-as': 65427, role: 'provider', 'role-strict': true, ...OPEN_POLICY },
      { address: '127.0.42.8', 'remote-as': 65428, role: 'rs-client', 'role-strict': true, ...OPEN_POLICY },
    ]);
    const p = await lab.peer('127.0.42.7', 65427, { caps: withRole(65427, Role.Customer) });
    const ours = capabilitiesOf(decodeOpen((await p.waitFor(MessageType.OPEN)).bytes)).filter((c) => c.code === CapabilityCode.Role);
    expect(ours).toEqual([{ code: CapabilityCode.Role, role: Role.Provider }]);
    expect(lab.speaker.neighbors.get('127.0.42.7')!.session!.peerRole).toBe(Role.Customer);
    const q = await lab.peer('127.0.42.8', 65428, { caps: withRole(65428, Role.RouteServer) });
    const ours2 = capabilitiesOf(decodeOpen((await q.waitFor(MessageType.OPEN)).bytes)).filter((c) => c.code === CapabilityCode.Role);
    expect(ours2).toEqual([{ code: CapabilityCode.Role, role: Role.RouteServerClient }]);
  });
});

// One speaker, a neighbor of every kind; each peer's own role is the counterpart of ours.
const N = {
  provider: { address: '127.0.42.10', asn: 65410, ours: 'customer', theirs: Role.Provider },
  provider2: { address: '127.0.42.11', asn: 65411, ours: 'customer', theirs: Role.Provider },
  customer: { address: '127.0.42.12', asn: 65412, ours: 'provider', theirs: Role.Customer },
  customer2: { address: '127.0.42.13', asn: 65413, ours: 'provider', theirs: Role.Customer },
  peer: { address: '127.0.42.14', asn: 65414, ours: 'peer', theirs: Role.Peer },
  peer2: { address: '127.0.42.15', asn: 65415, ours: 'peer', theirs: Role.Peer },
  rs: { address: '127.0.42.16', asn: 65416, ours: 'rs-client', theirs: Role.RouteServer },
  rsClient: { address: '127.0.42.17', asn: 65417, ours: 'rs-server', theirs: Role.RouteServerClient },
} as const;
type Name = keyof typeof N;

async function rolesLab() {
  const lab = await startLab(
    add,
    RS,
    Object.values(N).map((n) => ({ address: n.address, 'remote-as': n.asn, role: n.ours, 'role-strict': true, ...OPEN_POLICY })),
  );
  const t = {} as Record<Name, Table>;
  for (const [name, n] of Object.entries(N) as Array<[Name, (typeof N)[Name]]>) {
    t[name] = new Table(await lab.peer(n.address, n.asn, { caps: withRole(n.asn, n.theirs) }));
  }
  /**
   * A route without OTC from `from`, sent after the routes under test: once a customer holds
   * it, everything `from` sent before has been decided and exported.
   */
  const settle = async (from: Name, marker: string) => {
    t[from].peer.send(announce(attrs([N[from].asn]), [marker]));
    await until(() => t.customer2.has(marker) || t.customer.has(marker), 5000, `${marker} at a customer`);
    await sleep(200);
  };
  return { lab, t, settle };
}

const otcOf = (t: Table, prefix: string) => get(t.get(prefix), AttrType.OTC, 'otc');

describe('Only to Customer (RFC 9234 §5)', () => {
  it('marks routes from a provider, a peer and a route server with OTC = their AS on ingress', async () => {
    const { t, settle } = await rolesLab();
    t.provider.peer.send(announce(attrs([N.provider.asn, 3356]), ['10.42.1.0/24']));
    t.peer.peer.send(announce(attrs([N.peer.asn, 2914]), ['10.42.2.0/24']));
    t.rs.peer.send(announce(attrs([N.rs.asn, 6939]), ['10.42.3.0/24']));
    await until(() => ['10.42.1.0/24', '10.42.2.0/24', '10.42.3.0/24'].every((p) => t.customer.has(p)), 5000, 'the three routes at a customer');
    await settle('provider', '10.42.250.0/24');

    // Ingress: OTC = the AS of the neighbor the route came from, seen at a customer and an RS-client.
    expect({
      fromProvider: otcOf(t.customer, '10.42.1.0/24'),
      fromPeer: otcOf(t.customer, '10.42.2.0/24'),
      fromRouteServer: otcOf(t.customer, '10.42.3.0/24'),
      fromProviderAtRsClient: otcOf(t.rsClient, '10.42.1.0/24'),
    }).toEqual({ fromProvider: N.provider.asn, fromPeer: N.peer.asn, fromRouteServer: N.rs.asn, fromProviderAtRsClient: N.provider.asn });
  });

  it('sends no route carrying OTC to a provider, a peer or a route server', async () => {
    const { t, settle } = await rolesLab();
    t.provider.peer.send(announce(attrs([N.provider.asn, 3356]), ['10.42.1.0/24']));
    t.peer.peer.send(announce(attrs([N.peer.asn, 2914]), ['10.42.2.0/24']));
    t.rs.peer.send(announce(attrs([N.rs.asn, 6939]), ['10.42.3.0/24']));
    await until(() => ['10.42.1.0/24', '10.42.2.0/24', '10.42.3.0/24'].every((p) => t.customer2.has(p)), 5000, 'the three routes at a customer');
    await settle('provider', '10.42.250.0/24');
    const sent = (['provider2', 'peer2', 'rs'] as const).flatMap((to) =>
      ['10.42.1.0/24', '10.42.2.0/24', '10.42.3.0/24'].filter((p) => !(to === 'rs' && p === '10.42.3.0/24') && t[to].has(p)).map((p) => `${p} -> ${to}`),
    );
    expect(sent).toEqual([]);
  });

  it('rejects route leaks: OTC from a customer or an RS-client, or from a peer with another AS', async () => {
    const { t, settle } = await rolesLab();
    t.customer.peer.send(announce(attrs([N.customer.asn, 64999], [otc(64999)]), ['10.42.4.0/24']));
    t.rsClient.peer.send(announce(attrs([N.rsClient.asn, 64999], [otc(64999)]), ['10.42.5.0/24']));
    t.peer.peer.send(announce(attrs([N.peer.asn, 64999], [otc(64999)]), ['10.42.6.0/24']));
    t.peer.peer.send(announce(attrs([N.peer.asn, 64998], [otc(N.peer.asn)]), ['10.42.7.0/24'])); // OTC = the peer's AS: fine
    await settle('customer', '10.42.251.0/24');
    await settle('rsClient', '10.42.252.0/24');
    await settle('peer', '10.42.253.0/24');
    expect(t.customer2.has('10.42.7.0/24')).toBe(true);
    expect(otcOf(t.customer2, '10.42.7.0/24')).toBe(N.peer.asn);
    const leaks = (['provider', 'customer2', 'peer2', 'rs'] as const).flatMap((to) =>
      ['10.42.4.0/24', '10.42.5.0/24', '10.42.6.0/24'].filter((p) => t[to].has(p)).map((p) => `${p} -> ${to}`),
    );
    expect(leaks).toEqual([]);
  });

  it('adds OTC = its own AS on egress to customers, peers and RS-clients, and none to providers', async () => {
    const { t, settle } = await rolesLab();
    t.customer.peer.send(announce(attrs([N.customer.asn, 64500]), ['10.42.8.0/24']));
    await settle('customer', '10.42.254.0/24');
    for (const name of ['provider', 'customer2', 'peer', 'rs', 'rsClient'] as const) {
      expect(t[name].has('10.42.8.0/24'), `a customer's route at ${name}`).toBe(true);
    }
    expect({
      customer: otcOf(t.customer2, '10.42.8.0/24'),
      peer: otcOf(t.peer, '10.42.8.0/24'),
      rsClient: otcOf(t.rsClient, '10.42.8.0/24'),
      provider: otcOf(t.provider, '10.42.8.0/24'),
      routeServer: otcOf(t.rs, '10.42.8.0/24'),
    }).toEqual({ customer: LOCAL_AS, peer: LOCAL_AS, rsClient: LOCAL_AS, provider: undefined, routeServer: undefined });
  });
});
