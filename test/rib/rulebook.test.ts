// The attribute rulebook on the live path: every UPDATE is checked before any import policy
// (RFC 4271 §6.3, RFC 7606), an UPDATE that ends the session changes nothing, discarded
// attributes are not stored or passed on, and LOCAL_PREF follows RFC 4271 §5.1.5.
import { beforeAll, describe, expect, it } from 'vitest';
import { State } from '../../src/neighbor/fsm.js';
import { AttrType, decodeUpdate, encodeMessage, MessageType } from '../../src/packet/index.js';
import { announce as announceTo, attrs, O, OPEN_POLICY as open, startLab, T, Table, useCleanup, type Lab } from '../helpers/lab.js';
import { captureLog, until, type RawPeer } from '../helpers/rawPeer.js';

const RS = '127.0.60.1';
let logLines: string[] = [];
const add = useCleanup();
beforeAll(() => {
  logLines = captureLog();
});

const speaker = (neighbors: Array<Record<string, unknown>>) => startLab(add, RS, neighbors);
const peer = (lab: Lab, addr: string, asn: number) => lab.peer(addr, asn);
const announce = (a: Parameters<typeof announceTo>[0], ...prefixes: string[]) => announceTo(a, prefixes);

/** UPDATE bodies (after the 19-octet header) that RFC 4271 §6.3 / RFC 7606 answer with a reset. */
const RESETS: Array<{ what: string; body: () => Uint8Array; code: [number, number] }> = [
  { what: 'withdrawn routes length past the message', body: () => Uint8Array.of(0x00, 0x40, 0x00, 0x00), code: [3, 1] },
  {
    what: 'total path attribute length past the message',
    body: () => {
      const u = announce(attrs([65061]), '10.61.0.0/16').slice(19);
      u[2] = 0x7f; // total path attribute length
      return u;
    },
    code: [3, 1],
  },
  {
    what: 'a /33 in the NLRI field',
    body: () => {
      const u = announce(attrs([65061]), '10.61.0.0/16').slice(19);
      u[u.length - 3] = 33;
      return u;
    },
    code: [3, 10],
  },
  { what: 'an unrecognised well-known attribute', body: () => announce(attrs([65061], [{ type: 99, flags: T, data: Uint8Array.of(1) }]), '10.61.0.0/16').slice(19), code: [3, 2] },
];

const table = (p: RawPeer) => new Table(p).sync();

const everAnnounced = (p: RawPeer, prefix: string) =>
  p.received.some((m) => m.type === MessageType.UPDATE && decodeUpdate(m.bytes, { asn4: true }).nlri.some((n) => n.prefix === prefix));

describe('the attribute rulebook on the live path', () => {
  // RFC 8212 (no policy on eBGP), an explicit reject and accept: the same answer each time.
  for (const policy of [{}, { 'import-policy': 'reject', 'export-policy': 'accept' }, open]) {
    const label = Object.keys(policy).length ? `import-policy ${(policy as Record<string, string>)['import-policy']}` : 'no policy (RFC 8212)';
    it(`answers malformed UPDATEs with the RFC's NOTIFICATION under ${label}`, async () => {
      const sp = await speaker([
        { address: '127.0.60.2', 'remote-as': 65061, ...policy, 'idle-hold-time': 1, 'idle-hold-max': 1 },
        { address: '127.0.60.3', 'remote-as': 65062, ...open },
      ]);
      const other = await peer(sp, '127.0.60.3', 65062);
      for (const c of RESETS) {
        const bad = await peer(sp, '127.0.60.2', 65061);
        bad.send(encodeMessage(MessageType.UPDATE, c.body()));
        const n = await bad.notification();
        expect([n.code, n.subcode], c.what).toEqual(c.code);
        await bad.waitClosed();
        // Back from its idle hold time, ready for the next connection.
        await until(() => sp.speaker.neighbors.get('127.0.60.2')!.state === State.Active, 10_000, 'the neighbor listening again');
      }
      expect(sp.speaker.neighbors.get('127.0.60.3')!.state).toBe(State.Established);
      expect(other.closed).toBe(false);
      const stats = sp.speaker.importStats(sp.speaker.neighbors.get('127.0.60.2')!)!;
      expect(Object.values(stats.resets).reduce((a, b) => a + b, 0)).toBe(RESETS.length);
    });
  }

  it('applies and advertises nothing of a batch that ends the session, and the NOTIFICATION goes first', async () => {
    const sp = await speaker([
      { address: '127.0.60.4', 'remote-as': 65064, ...open },
      { address: '127.0.60.9', 'remote-as': 65069, ...open },
    ]);
    const sink = await peer(sp, '127.0.60.9', 65069);
    const p = await peer(sp, '127.0.60.4', 65064);
    p.send(announce(attrs([65064]), '10.64.1.0/24'));
    await until(() => table(sink).has('10.64.1.0/24'), 5000, 'the first route');
    // One write: a good UPDATE, then one that resets the session, then another good one.
    const bad = announce(attrs([65064]), '10.64.3.0/24');
    bad[bad.length - 4] = 40; // a /40 in the NLRI field
    p.send(Buffer.concat([announce(attrs([65064]), '10.64.2.0/24'), bad, announce(attrs([65064]), '10.64.4.0/24')]));
    const n = await p.notification();
    expect([n.code, n.subcode]).toEqual([3, 10]);
    // The session's routes go: the one it had, and nothing of what came with the error.
    await until(() => !table(sink).has('10.64.1.0/24'), 5000, 'the flushed route withdrawn');
    await until(() => sp.speaker.rib!.pending === 0, 5000, 'the pipeline idle');
    expect(everAnnounced(sink, '10.64.2.0/24')).toBe(false);
    expect(everAnnounced(sink, '10.64.4.0/24')).toBe(false);
    expect(sp.speaker.receivedPaths(sp.speaker.neighbors.get('127.0.60.4')!)).toBe(0);
  });

  it('discards a 3-octet AGGREGATOR (RFC 7606 §7.7) and passes the route on without it', async () => {
    const sp = await speaker([
      { address: '127.0.60.5', 'remote-as': 65065, ...open },
      { address: '127.0.60.9', 'remote-as': 65069, ...open },
    ]);
    const sink = await peer(sp, '127.0.60.9', 65069);
    const p = await peer(sp, '127.0.60.5', 65065);
    // AGGREGATOR with a 3-octet value, spliced in after the other attributes.
    const u = announce(attrs([65065]), '10.65.0.0/16').slice(19);
    const aLen = (u[2] << 8) | u[3];
    const agg = Uint8Array.of(O | T, AttrType.AGGREGATOR, 3, 0, 1, 2);
    const body = Buffer.concat([u.subarray(0, 2), Uint8Array.of(0, aLen + agg.length), u.subarray(4, 4 + aLen), agg, u.subarray(4 + aLen)]);
    p.send(encodeMessage(MessageType.UPDATE, body));
    await until(() => table(sink).has('10.65.0.0/16'), 5000, 'the route');
    expect(table(sink).get('10.65.0.0/16')!.some((a) => a.type === AttrType.AGGREGATOR)).toBe(false);
    const stats = sp.speaker.importStats(sp.speaker.neighbors.get('127.0.60.5')!)!;
    expect(stats.ipv4Unicast.attributesDiscarded).toBe(1);
    expect(sp.speaker.neighbors.get('127.0.60.5')!.state).toBe(State.Established);
    expect(logLines.some((l) => l.includes('AGGREGATOR: length 3'))).toBe(true);
  });

  it('ignores a LOCAL_PREF from an eBGP peer: iBGP gets the default 100 (RFC 4271 §5.1.5)', async () => {
    const sp = await speaker([
      { address: '127.0.60.6', 'remote-as': 65066, ...open },
      { address: '127.0.60.7', 'remote-as': 65000 },
    ]);
    const ibgp = await peer(sp, '127.0.60.7', 65000);
    const p = await peer(sp, '127.0.60.6', 65066);
    p.send(announce(attrs([65066], [{ type: AttrType.LOCAL_PREF, flags: T, localPref: 500 }]), '10.66.0.0/16'));
    await until(() => table(ibgp).has('10.66.0.0/16'), 5000, 'the route at the iBGP peer');
    const lp = table(ibgp).get('10.66.0.0/16')!.find((a) => a.type === AttrType.LOCAL_PREF) as { localPref: number } | undefined;
    expect(lp?.localPref).toBe(100);
    expect(sp.speaker.importStats(sp.speaker.neighbors.get('127.0.60.6')!)!.ipv4Unicast.attributesDiscarded).toBe(1);
  });

  it('counts treat-as-withdraw per family and keeps the session', async () => {
    const sp = await speaker([{ address: '127.0.60.8', 'remote-as': 65068, ...open }]);
    const p = await peer(sp, '127.0.60.8', 65068);
    const bad = attrs([65068]);
    (bad[0] as { origin: number }).origin = 9;
    p.send(announce(bad, '10.68.0.0/16', '10.68.1.0/24'));
    const n = sp.speaker.neighbors.get('127.0.60.8')!;
    await until(() => sp.speaker.importStats(n)!.ipv4Unicast.treatAsWithdraw === 1, 5000, 'the counter');
    expect(sp.speaker.importStats(n)!.ipv4Unicast.prefixesTreatAsWithdraw).toBe(2);
    expect(n.state).toBe(State.Established);
  });
});
