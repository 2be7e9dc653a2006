// RFC 7947 route server: towards a neighbor marked route-server-client, ribstorm is
// transparent. It does not prepend its own AS (§2.2.2.1), leaves NEXT_HOP as the announcing
// client set it (§2.2.2.2) and passes MULTI_EXIT_DISC on unchanged (§2.2.2.3). A neighbor that
// is not a client is treated as any eBGP peer.
import { beforeAll, describe, expect, it } from 'vitest';
import { AttrType, CapabilityCode, encodeUpdate, type PathAttribute } from '../../src/packet/index.js';
import { captureLog, defaultCaps, until } from '../helpers/rawPeer.js';
import { announce, attrs, communities, get, LOCAL_AS, med, O, OPEN_POLICY, pathOf, settle, startLab, Table, useCleanup, withdraw } from '../helpers/lab.js';

const RS = '127.0.40.1';
const A = '127.0.40.2'; // client, AS 65402
const B = '127.0.40.3'; // client, AS 65403
const C = '127.0.40.4'; // ordinary eBGP neighbor, AS 65404
const add = useCleanup();
beforeAll(() => {
  captureLog();
});

const neighbors = [
  { address: A, 'remote-as': 65402, 'route-server-client': true, ...OPEN_POLICY },
  { address: B, 'remote-as': 65403, 'route-server-client': true, ...OPEN_POLICY },
  { address: C, 'remote-as': 65404, ...OPEN_POLICY },
];

describe('route server (RFC 7947)', () => {
  it('passes a route between clients without its AS, with NEXT_HOP and MED unchanged', async () => {
    const lab = await startLab(add, RS, neighbors);
    const b = new Table(await lab.peer(B, 65403));
    const c = new Table(await lab.peer(C, 65404));
    const pa = await lab.peer(A, 65402);
    const a = new Table(pa);
    pa.send(announce(attrs([65402, 3356, 15169], [med(50), communities(65402 * 65536 + 1)], A), ['10.40.0.0/16', '10.40.1.0/24']));
    await until(() => b.size === 2 && c.size === 2, 5000, 'the routes at both receivers');

    const atB = b.get('10.40.0.0/16');
    expect(pathOf(atB)).toEqual([65402, 3356, 15169]); // §2.2.2.1: no AS of the route server
    expect(get(atB, AttrType.NEXT_HOP, 'nextHop')).toBe(A); // §2.2.2.2: the client's next hop
    expect(get(atB, AttrType.MULTI_EXIT_DISC, 'med')).toBe(50); // §2.2.2.3
    expect(get(atB, AttrType.COMMUNITIES, 'communities')).toEqual([65402 * 65536 + 1]);
    expect(get(atB, AttrType.LOCAL_PREF, 'localPref')).toBeUndefined();

    // The same route towards a neighbor that is not a route-server client: plain eBGP.
    const atC = c.get('10.40.0.0/16');
    expect(pathOf(atC)).toEqual([LOCAL_AS, 65402, 3356, 15169]);
    expect(get(atC, AttrType.NEXT_HOP, 'nextHop')).toBe(RS);
    expect(get(atC, AttrType.MULTI_EXIT_DISC, 'med')).toBeUndefined();

    // Never back to the client that announced it.
    await settle(pa, b, '10.40.255.0/24', [65402]);
    expect(a.has('10.40.0.0/16')).toBe(false);

    const pc = c.peer;
    pc.send(announce(attrs([65404, 174], [med(9)], '198.18.4.4'), ['10.44.0.0/16']));
    await until(() => b.has('10.44.0.0/16'), 5000, "C's route at B");
    // A client is sent a non-client's route unchanged too: transparency is towards the client.
    expect(pathOf(b.get('10.44.0.0/16'))).toEqual([65404, 174]);
    expect(get(b.get('10.44.0.0/16'), AttrType.NEXT_HOP, 'nextHop')).toBe('198.18.4.4');

    // Withdrawal follows through.
    pa.send(withdraw(['10.40.1.0/24']));
    await until(() => !b.has('10.40.1.0/24'), 5000, 'the withdrawal at B');
    expect(b.has('10.40.0.0/16')).toBe(true);
  });

  it('chooses between two clients on the unchanged attributes', async () => {
    const lab = await startLab(add, RS, neighbors);
    const c = new Table(await lab.peer(C, 65404));
    const pa = await lab.peer(A, 65402);
    const pb = await lab.peer(B, 65403);
    const a = new Table(pa);
    pa.send(announce(attrs([65402, 1, 2], [med(10)], A), ['10.41.0.0/16']));
    pb.send(announce(attrs([65403, 2], [med(20)], B), ['10.41.0.0/16']));
    await until(() => pathOf(a.get('10.41.0.0/16'))?.[0] === 65403 && pathOf(c.get('10.41.0.0/16'))?.[1] === 65403, 5000, "B's path at A and C");
    // The best path (B's, shorter AS_PATH) goes to A as B sent it.
    expect(pathOf(a.get('10.41.0.0/16'))).toEqual([65403, 2]);
    expect(get(a.get('10.41.0.0/16'), AttrType.NEXT_HOP, 'nextHop')).toBe(B);
    expect(get(a.get('10.41.0.0/16'), AttrType.MULTI_EXIT_DISC, 'med')).toBe(20);
    // B leaves: A is told about nothing but its own path, so the prefix is withdrawn from A.
    pb.close();
    await until(() => !a.has('10.41.0.0/16'), 5000, 'the withdrawal at A');
    await until(() => pathOf(c.get('10.41.0.0/16'))?.[1] === 65402, 5000, "A's path at C");
  });

  it('leaves an IPv6 next hop as the client set it', async () => {
    const v6 = (asn: number) => [...defaultCaps(asn), { code: CapabilityCode.Multiprotocol, afi: 2, safi: 1 } as const];
    const lab = await startLab(add, RS, neighbors);
    const b = new Table(await lab.peer(B, 65403, { caps: v6(65403) }));
    const c = new Table(await lab.peer(C, 65404, { caps: v6(65404) }));
    const pa = await lab.peer(A, 65402, { caps: v6(65402) });
    const mp: PathAttribute = { type: AttrType.MP_REACH_NLRI, flags: O, afi: 2, safi: 1, nextHops: ['2001:db8:40::2'], nlri: [{ prefix: '2001:db8:4000::/48' }] };
    const base = attrs([65402, 6939], [med(5)]).filter((x) => x.type !== AttrType.NEXT_HOP);
    pa.send(encodeUpdate({ withdrawn: [], attributes: [...base, mp], nlri: [] }, { asn4: true }));
    await until(() => b.has('2001:db8:4000::/48') && c.has('2001:db8:4000::/48'), 5000, 'the IPv6 route at B and C');
    const atB = b.get('2001:db8:4000::/48');
    expect(get(atB, AttrType.MP_REACH_NLRI, 'nextHops')).toEqual(['2001:db8:40::2']);
    expect(pathOf(atB)).toEqual([65402, 6939]);
    expect(get(atB, AttrType.MULTI_EXIT_DISC, 'med')).toBe(5);
    expect(get(c.get('2001:db8:4000::/48'), AttrType.MP_REACH_NLRI, 'nextHops')).not.toEqual(['2001:db8:40::2']); // ours, to a non-client
  });
});
