// ADD-PATH receive (RFC 7911): a neighbor that negotiated sending path identifiers towards
// ribstorm announces several paths of one prefix, told apart by their identifiers (§3: the
// prefix and the path identifier together name a path). Each is kept; a withdrawal names one
// of them, and the others stay. Checked through what a plain receiver is sent.
import { beforeAll, describe, expect, it } from 'vitest';
import { AddPathMode, CapabilityCode, type Capability } from '../../src/packet/index.js';
import { captureLog, defaultCaps, sleep, until } from '../helpers/rawPeer.js';
import { announce, attrs, LOCAL_AS, OPEN_POLICY, pathOf, startLab, Table, useCleanup, withdraw } from '../helpers/lab.js';

const RS = '127.0.43.1';
const SRC = '127.0.43.2'; // AS 65432, sends path identifiers
const SINK = '127.0.43.9'; // AS 65439, no ADD-PATH
const add = useCleanup();
let log: string[] = [];
beforeAll(() => {
  log = captureLog();
});

const AP = { asn4: true, addPath: { ipv4: true } };
const sendsPaths = (asn: number): Capability[] => [...defaultCaps(asn), { code: CapabilityCode.AddPath, families: [{ afi: 1, safi: 1, mode: AddPathMode.Send }] }];
const P = '10.43.0.0/16';
const id = (pathId: number, prefix = P) => ({ prefix, pathId });

async function lab() {
  const l = await startLab(add, RS, [
    { address: SRC, 'remote-as': 65432, 'add-path': 'receive', ...OPEN_POLICY },
    { address: SINK, 'remote-as': 65439, ...OPEN_POLICY },
  ]);
  const sink = new Table(await l.peer(SINK, 65439));
  const src = await l.peer(SRC, 65432, { caps: sendsPaths(65432) });
  expect(l.speaker.neighbors.get(SRC)!.session!.addPathReceive).toEqual(['ipv4-unicast']);
  const paths = () => l.speaker.receivedPaths(l.speaker.neighbors.get(SRC)!);
  return { l, sink, src, paths };
}

describe('ADD-PATH receive (RFC 7911)', () => {
  it('keeps two paths of one prefix apart by path identifier; withdrawing the best leaves the other', async () => {
    const { sink, src, paths } = await lab();
    src.send(announce(attrs([65432, 1, 2, 3]), [id(1)], AP));
    src.send(announce(attrs([65432, 3]), [id(2)], AP)); // shorter AS_PATH: the best
    await until(() => pathOf(sink.get(P))?.length === 3, 5000, 'the shorter path at the sink');
    expect(pathOf(sink.get(P))).toEqual([LOCAL_AS, 65432, 3]);
    await until(() => paths() === 2, 2000, 'two paths held').catch(() => {});
    expect(paths()).toBe(2);

    // Path 2 withdrawn: path 1 is still there and becomes the best.
    src.send(withdraw([id(2)], AP));
    await until(() => pathOf(sink.get(P))?.length !== 3, 5000, 'a change at the sink');
    expect(sink.has(P), 'path 1 is still held').toBe(true);
    expect(pathOf(sink.get(P))).toEqual([LOCAL_AS, 65432, 1, 2, 3]);
    expect(paths()).toBe(1);

    // Path 1 withdrawn too: nothing left.
    src.send(withdraw([id(1)], AP));
    await until(() => !sink.has(P), 5000, 'the withdrawal at the sink');
    expect(paths()).toBe(0);
    expect(log.some((l) => l.includes(SRC) && /NOTIFICATION/.test(l))).toBe(false);
  });

  it('withdrawing a path that is not the best changes nothing downstream; re-announcing an identifier replaces only that path', async () => {
    const { sink, src, paths } = await lab();
    src.send(announce(attrs([65432, 1, 2, 3]), [id(7)], AP));
    src.send(announce(attrs([65432, 3]), [id(8)], AP));
    src.send(announce(attrs([65432, 9]), ['10.43.1.0/24'].map((prefix) => ({ prefix, pathId: 7 })), AP)); // same identifier, other prefix
    await until(() => pathOf(sink.get(P))?.length === 3 && sink.has('10.43.1.0/24'), 5000, 'both prefixes at the sink');
    const before = sink.changes.get(P);

    src.send(withdraw([id(7)], AP)); // not the best
    src.send(announce(attrs([65432, 4]), ['10.43.2.0/24'], AP)); // a marker behind it
    await until(() => sink.has('10.43.2.0/24'), 5000, 'the marker');
    await sleep(100);
    expect(pathOf(sink.get(P))).toEqual([LOCAL_AS, 65432, 3]);
    expect(sink.changes.get(P)).toBe(before); // nothing sent about P
    expect(sink.has('10.43.1.0/24'), 'identifier 7 of another prefix untouched').toBe(true);
    expect(paths()).toBe(3); // P/8, 10.43.1.0/24/7, 10.43.2.0/24/0

    // Identifier 8 announced again with a longer path: it replaces path 8, and nothing else
    // (path 7 is gone), so the longer path is now the best.
    src.send(announce(attrs([65432, 5, 5, 5, 5]), [id(8)], AP));
    await until(() => pathOf(sink.get(P))?.length === 6, 5000, 'the replaced path at the sink');
    expect(pathOf(sink.get(P))).toEqual([LOCAL_AS, 65432, 5, 5, 5, 5]);
    expect(paths()).toBe(3);
  });
});
