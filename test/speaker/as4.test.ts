// 2-octet-AS neighbors (RFC 6793). A speaker without the 4-octet AS capability sends AS_PATH
// with 2-octet numbers, AS_TRANS (23456) in place of each 4-octet one, and the real path in
// AS4_PATH (§4.2.2); ribstorm merges them back (§4.2.3) and a 4-octet receiver gets the real
// path and no AS4_PATH. Towards a 2-octet receiver, a path with a 4-octet AS travels as
// AS_TRANS in AS_PATH plus the whole path in AS4_PATH; AGGREGATOR likewise with AS4_AGGREGATOR.
import { beforeAll, describe, expect, it } from 'vitest';
import { State } from '../../src/neighbor/fsm.js';
import { AS_TRANS, AttrType, CapabilityCode, type Capability, type PathAttribute } from '../../src/packet/index.js';
import { captureLog, until } from '../helpers/rawPeer.js';
import { announce, attrs, get, hasAttr, LOCAL_AS, O, OPEN_POLICY, pathOf, startLab, T, Table, useCleanup } from '../helpers/lab.js';

const RS = '127.0.44.1';
const OLD = '127.0.44.2'; // 2-octet speaker, AS 65442
const NEW = '127.0.44.3'; // 4-octet speaker, AS 4200000443
const OLD_SINK = '127.0.44.4'; // 2-octet receiver, AS 65444
const NEW_SINK = '127.0.44.5'; // 4-octet receiver, AS 65445
const BIG = 4200000443;
const add = useCleanup();
beforeAll(() => {
  captureLog();
});

const TWO_OCTET = { asn4: false };
/** An OPEN without the 4-octet AS capability. */
const oldCaps = (): Capability[] => [{ code: CapabilityCode.Multiprotocol, afi: 1, safi: 1 }, { code: CapabilityCode.RouteRefresh } as Capability];
const as4Path = (asns: number[]): PathAttribute => ({ type: AttrType.AS4_PATH, flags: O | T, segments: [{ type: 2, asns }] });

async function lab() {
  const l = await startLab(add, RS, [
    { address: OLD, 'remote-as': 65442, ...OPEN_POLICY },
    { address: NEW, 'remote-as': BIG, ...OPEN_POLICY },
    { address: OLD_SINK, 'remote-as': 65444, ...OPEN_POLICY },
    { address: NEW_SINK, 'remote-as': 65445, ...OPEN_POLICY },
  ]);
  const oldSink = new Table(await l.peer(OLD_SINK, 65444, { caps: oldCaps() }), TWO_OCTET);
  const newSink = new Table(await l.peer(NEW_SINK, 65445));
  expect(l.speaker.neighbors.get(OLD_SINK)!.session!.asn4).toBe(false);
  expect(l.speaker.neighbors.get(NEW_SINK)!.session!.asn4).toBe(true);
  return { l, oldSink, newSink };
}

describe('2-octet AS neighbors (RFC 6793)', () => {
  it('merges AS_PATH with AS_TRANS and AS4_PATH from a 2-octet neighbor', async () => {
    const { l, oldSink, newSink } = await lab();
    const old = await l.peer(OLD, 65442, { caps: oldCaps() });
    expect(l.speaker.neighbors.get(OLD)!.session!.asn4).toBe(false);
    // 4200000001 and 4200000002 became AS_TRANS at the 4-octet/2-octet boundary behind OLD;
    // OLD then prepended itself to AS_PATH only.
    old.send(announce(attrs([65442, AS_TRANS, AS_TRANS, 3356], [as4Path([4200000001, 4200000002, 3356])]), ['10.44.1.0/24'], TWO_OCTET));
    const agg: PathAttribute[] = [
      { type: AttrType.AGGREGATOR, flags: O | T, asn: AS_TRANS, address: '192.0.2.7' },
      { type: AttrType.AS4_AGGREGATOR, flags: O | T, asn: 4200000007, address: '192.0.2.7' },
    ];
    old.send(announce(attrs([65442, AS_TRANS], [as4Path([4200000007]), ...agg]), ['10.44.2.0/24'], TWO_OCTET));
    await until(() => newSink.has('10.44.1.0/24') && newSink.has('10.44.2.0/24'), 5000, 'both routes at the 4-octet receiver');

    const got = newSink.get('10.44.1.0/24');
    expect(pathOf(got)).toEqual([LOCAL_AS, 65442, 4200000001, 4200000002, 3356]);
    expect(hasAttr(got, AttrType.AS4_PATH)).toBe(false); // never between two 4-octet speakers
    const got2 = newSink.get('10.44.2.0/24');
    expect(pathOf(got2)).toEqual([LOCAL_AS, 65442, 4200000007]);
    expect(get(got2, AttrType.AGGREGATOR, 'asn')).toBe(4200000007);
    expect(hasAttr(got2, AttrType.AS4_AGGREGATOR)).toBe(false);

    // The same routes to a 2-octet receiver: AS_TRANS in AS_PATH, the whole path in AS4_PATH.
    await until(() => oldSink.has('10.44.1.0/24') && oldSink.has('10.44.2.0/24'), 5000, 'both routes at the 2-octet receiver');
    const toOld = oldSink.get('10.44.1.0/24');
    expect(pathOf(toOld)).toEqual([LOCAL_AS, 65442, AS_TRANS, AS_TRANS, 3356]);
    expect(pathOf(toOld, AttrType.AS4_PATH)).toEqual([LOCAL_AS, 65442, 4200000001, 4200000002, 3356]);
    const toOld2 = oldSink.get('10.44.2.0/24');
    expect(get(toOld2, AttrType.AGGREGATOR, 'asn')).toBe(AS_TRANS);
    expect(get(toOld2, AttrType.AS4_AGGREGATOR, 'asn')).toBe(4200000007);
  });

  it('sends a 4-octet neighbor\'s route to a 2-octet receiver with AS_TRANS and AS4_PATH', async () => {
    const { l, oldSink, newSink } = await lab();
    const neu = await l.peer(NEW, BIG);
    expect(l.speaker.neighbors.get(NEW)!.state).toBe(State.Established);
    neu.send(announce(attrs([BIG, 174]), ['10.44.3.0/24']));
    await until(() => oldSink.has('10.44.3.0/24') && newSink.has('10.44.3.0/24'), 5000, 'the routes at both receivers');
    expect(pathOf(newSink.get('10.44.3.0/24'))).toEqual([LOCAL_AS, BIG, 174]);
    const toOld = oldSink.get('10.44.3.0/24');
    expect(pathOf(toOld)).toEqual([LOCAL_AS, AS_TRANS, 174]);
    expect(pathOf(toOld, AttrType.AS4_PATH)).toEqual([LOCAL_AS, BIG, 174]);
    expect(get(toOld, AttrType.AS4_PATH, 'flags')).toBe(O | T);
  });

  it('sends no AS4_PATH to a 2-octet receiver when every AS fits in two octets', async () => {
    const { l, oldSink } = await lab();
    const old = await l.peer(OLD, 65442, { caps: oldCaps() });
    old.send(announce(attrs([65442, 3356]), ['10.44.5.0/24'], TWO_OCTET));
    await until(() => oldSink.has('10.44.5.0/24'), 5000, 'the route at the 2-octet receiver');
    expect(pathOf(oldSink.get('10.44.5.0/24'))).toEqual([LOCAL_AS, 65442, 3356]);
    expect(hasAttr(oldSink.get('10.44.5.0/24'), AttrType.AS4_PATH)).toBe(false);
  });
});
