// `max-as-path-length` per neighbor (FRR's `bgp maxas-limit`): an announcement whose AS_PATH is
// longer, counted as the decision process counts it (an AS_SET counts one), is filtered and
// counted; a path at the limit is kept; a later longer path for a held prefix replaces nothing
// and withdraws it; other neighbors are not limited.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/schema.js';
import { State } from '../../src/neighbor/fsm.js';
import { AsPathSegmentType, AttrType, MessageType, type PathAttribute } from '../../src/packet/index.js';
import { until } from '../helpers/rawPeer.js';
import { announce, attrs, OPEN_POLICY, startLab, T, Table, useCleanup } from '../helpers/lab.js';

const RS = '127.0.46.1';
const P = '127.0.46.2'; // limited to 4
const Q = '127.0.46.3'; // not limited
const SINK = '127.0.46.9';
const add = useCleanup();

/** AS_PATH of a sequence, then (optionally) an AS_SET. */
function withSet(seq: number[], set: number[]): PathAttribute[] {
  const a = attrs(seq);
  const segments = [{ type: AsPathSegmentType.AS_SEQUENCE, asns: seq }, { type: AsPathSegmentType.AS_SET, asns: set }];
  return a.map((x) => (x.type === AttrType.AS_PATH ? { type: AttrType.AS_PATH, flags: T, segments } : x)) as PathAttribute[];
}

describe('max-as-path-length', () => {
  it('in the config: a length from 1; absent means none', () => {
    const base = { global: { asn: 65000, 'router-id': '10.0.0.1' } };
    const n = (extra: Record<string, unknown>) => validateConfig({ ...base, neighbors: [{ address: P, 'remote-as': 65462, ...extra }] }).neighbors[0];
    expect(n({}).maxAsPathLength).toBeUndefined();
    expect(n({ 'max-as-path-length': 4 }).maxAsPathLength).toBe(4);
    expect(() => n({ 'max-as-path-length': 0 })).toThrow(/max-as-path-length: expected a length from 1 to 4096, got 0/);
  });

  it('longer paths are filtered and counted, a path at the limit is kept, an AS_SET counts one', async () => {
    const lab = await startLab(add, RS, [
      { address: P, 'remote-as': 65462, ...OPEN_POLICY, 'max-as-path-length': 4 },
      { address: Q, 'remote-as': 65463, ...OPEN_POLICY },
      { address: SINK, 'remote-as': 65469, ...OPEN_POLICY },
    ]);
    const sink = new Table(await lab.peer(SINK, 65469));
    const p = await lab.peer(P, 65462);
    const q = await lab.peer(Q, 65463);
    p.send(announce(attrs([65462, 2, 3, 4]), ['10.46.1.0/24'])); // 4: kept
    p.send(announce(attrs([65462, 2, 3, 4, 5]), ['10.46.2.0/24'])); // 5: filtered
    p.send(announce(withSet([65462, 2, 3], [7, 8, 9]), ['10.46.3.0/24'])); // 3 + a set = 4: kept
    q.send(announce(attrs([65463, 2, 3, 4, 5, 6]), ['10.46.4.0/24'])); // Q has no limit
    await until(() => sink.has('10.46.1.0/24') && sink.has('10.46.3.0/24') && sink.has('10.46.4.0/24'), 5000, 'the kept routes at the sink');
    const np = lab.speaker.neighbors.get(P)!;
    await until(() => (lab.speaker.importStats(np)?.ipv4Unicast.filtered ?? 0) === 1, 5000, 'one announcement filtered');
    expect(sink.has('10.46.2.0/24')).toBe(false);
    expect(lab.speaker.receivedPaths(np)).toBe(2);
    // A held prefix announced again with a longer path: the old path goes too (filtered = withdrawn).
    p.send(announce(attrs([65462, 2, 3, 4, 5, 6]), ['10.46.1.0/24']));
    await until(() => !sink.has('10.46.1.0/24'), 5000, 'the replaced route withdrawn at the sink');
    expect(lab.speaker.receivedPaths(np)).toBe(1);
    // A filter, not an error: the session stays up without a NOTIFICATION.
    expect(lab.state(P)).toBe(State.Established);
    expect(p.received.some((m) => m.type === MessageType.NOTIFICATION)).toBe(false);
  });
});
