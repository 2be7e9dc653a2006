// IPv4 and IPv6 changes of one batch leave in UPDATEs of their own family: withdrawals of both
// (attribute set 0 for either) are never mixed into one message, and a peer that negotiated
// only IPv4 gets only IPv4 (RFC 4760 §4: IPv6 withdrawals travel in MP_UNREACH_NLRI).
import { beforeAll, describe, expect, it } from 'vitest';
import { AttrFlag, AttrType, CapabilityCode, decodeUpdate, encodeUpdate, MessageType, type PathAttribute } from '../../src/packet/index.js';
import { attrs, OPEN_POLICY, startLab, Table, useCleanup } from '../helpers/lab.js';
import { captureLog, defaultCaps, until, type RawPeer } from '../helpers/rawPeer.js';

const RS = '127.0.61.1';
const add = useCleanup();
beforeAll(() => {
  captureLog();
});

const dualStack = (asn: number) => [...defaultCaps(asn), { code: CapabilityCode.Multiprotocol, afi: 2, safi: 1 } as const];
const mpReach = (nlri: string[]): PathAttribute => ({ type: AttrType.MP_REACH_NLRI, flags: AttrFlag.Optional, afi: 2, safi: 1, nextHops: ['2001:db8::9'], nlri: nlri.map((prefix) => ({ prefix })) });
const mpUnreach = (withdrawn: string[]): PathAttribute => ({ type: AttrType.MP_UNREACH_NLRI, flags: AttrFlag.Optional, afi: 2, safi: 1, withdrawn: withdrawn.map((prefix) => ({ prefix })) });

/** Every UPDATE a peer was sent decodes, and its classic fields hold IPv4 prefixes only. */
function wellFormed(p: RawPeer): string[] {
  const bad: string[] = [];
  for (const m of p.received) {
    if (m.type !== MessageType.UPDATE) continue;
    try {
      const u = decodeUpdate(m.bytes, { asn4: true });
      for (const x of [...u.withdrawn, ...u.nlri]) if (x.prefix.includes(':')) bad.push(`IPv6 ${x.prefix} in a classic field`);
    } catch (e) {
      bad.push(`${Buffer.from(m.bytes).toString('hex')}: ${(e as Error).message}`);
    }
  }
  return bad;
}

describe('address families in one batch', () => {
  it('withdraws IPv4 and IPv6 routes in messages of their own family, each to the peers that have it', async () => {
    const lab = await startLab(add, RS, [
      { address: '127.0.61.2', 'remote-as': 65612, ...OPEN_POLICY, families: ['ipv4-unicast', 'ipv6-unicast'] },
      { address: '127.0.61.3', 'remote-as': 65613, ...OPEN_POLICY, families: ['ipv4-unicast', 'ipv6-unicast'] },
      { address: '127.0.61.4', 'remote-as': 65614, ...OPEN_POLICY },
    ]);
    const sinkPeer = await lab.peer('127.0.61.3', 65613, { caps: dualStack(65613) });
    const v4Peer = await lab.peer('127.0.61.4', 65614);
    const a = await lab.peer('127.0.61.2', 65612, { caps: dualStack(65612) });
    const sink = new Table(sinkPeer);
    const v4 = new Table(v4Peer);
    const v6 = ['2001:db8:1::/48', '2001:db8:2::/48', '2001:db8:3::/48'];
    const ipv4 = ['10.61.1.0/24', '10.61.2.0/24', '10.61.3.0/24'];
    // IPv6 first, so the batch's withdrawals start with an IPv6 one.
    a.send(encodeUpdate({ withdrawn: [], attributes: [...attrs([65612]).filter((x) => x.type !== AttrType.NEXT_HOP), mpReach(v6)], nlri: [] }, { asn4: true }));
    a.send(encodeUpdate({ withdrawn: [], attributes: attrs([65612]), nlri: ipv4.map((prefix) => ({ prefix })) }, { asn4: true }));
    await until(() => [...v6, ...ipv4].every((p) => sink.has(p)) && ipv4.every((p) => v4.has(p)), 5000, 'every route at the peers');
    // One write: both families withdrawn, IPv6 first.
    a.send(Buffer.concat([
      encodeUpdate({ withdrawn: [], attributes: [mpUnreach(v6)], nlri: [] }, { asn4: true }),
      encodeUpdate({ withdrawn: ipv4.map((prefix) => ({ prefix })), attributes: [], nlri: [] }, { asn4: true }),
    ]));
    await until(() => sink.size === 0, 5000, 'the dual-stack peer empty');
    await until(() => v4.size === 0, 5000, 'the IPv4 peer empty');
    expect(wellFormed(sinkPeer)).toEqual([]);
    expect(wellFormed(v4Peer)).toEqual([]);
    expect(v4Peer.received.some((m) => m.type === MessageType.NOTIFICATION)).toBe(false);
  });
});

describe('per-family figures', () => {
  it('counts held paths and filtered announcements per family: a policy, a reject, a withdrawal, a session lost', async () => {
    const lab = await startLab(add, RS, [
      {
        address: '127.0.61.5',
        'remote-as': 65615,
        families: ['ipv4-unicast', 'ipv6-unicast'],
        'export-policy': 'accept',
        import: { default: 'accept', rules: [{ prefixes: ['10.62.9.0/24', '2001:db8:9::/48'], action: 'reject' }] },
      },
      { address: '127.0.61.6', 'remote-as': 65616, families: ['ipv4-unicast', 'ipv6-unicast'], 'import-policy': 'reject', 'export-policy': 'accept' },
    ]);
    const a = await lab.peer('127.0.61.5', 65615, { caps: dualStack(65615) });
    const r = await lab.peer('127.0.61.6', 65616, { caps: dualStack(65616) });
    const v6 = ['2001:db8:1::/48', '2001:db8:2::/48', '2001:db8:9::/48'];
    const v4 = ['10.62.1.0/24', '10.62.9.0/24'];
    const send = (p: RawPeer, asn: number) => {
      p.send(encodeUpdate({ withdrawn: [], attributes: [...attrs([asn]).filter((x) => x.type !== AttrType.NEXT_HOP), mpReach(v6)], nlri: [] }, { asn4: true }));
      p.send(encodeUpdate({ withdrawn: [], attributes: attrs([asn]), nlri: v4.map((prefix) => ({ prefix })) }, { asn4: true }));
    };
    send(a, 65615);
    send(r, 65616);
    const counts = (addr: string) => lab.speaker.routeCounts(lab.speaker.neighbors.get(addr)!)!;
    await until(() => counts('127.0.61.5').received.ipv6 === 2 && counts('127.0.61.5').received.ipv4 === 1 && counts('127.0.61.6').stats.ipv6Unicast.filtered === 3);
    const ca = counts('127.0.61.5');
    expect([ca.stats.ipv4Unicast.filtered, ca.stats.ipv6Unicast.filtered]).toEqual([1, 1]);
    const cr = counts('127.0.61.6');
    expect([cr.received.ipv4, cr.received.ipv6]).toEqual([0, 0]);
    expect([cr.stats.ipv4Unicast.filtered, cr.stats.ipv6Unicast.filtered]).toEqual([2, 3]);
    a.send(encodeUpdate({ withdrawn: [], attributes: [mpUnreach(['2001:db8:1::/48'])], nlri: [] }, { asn4: true }));
    await until(() => counts('127.0.61.5').received.ipv6 === 1);
    expect(counts('127.0.61.5').received.ipv4).toBe(1);
    a.close();
    await until(() => counts('127.0.61.5').received.ipv6 === 0 && counts('127.0.61.5').received.ipv4 === 0, 5000, 'the paths flushed');
  });
});
