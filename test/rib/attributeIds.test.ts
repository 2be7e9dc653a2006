// Attribute ids are 32-bit: a RIB fed by many full tables interns millions of attribute sets
// (16 synthetic feeds of 1M prefixes: 3.4M), and every best-path change must still reach the
// Adj-RIB-Out exactly once, whatever its id. The ids start just below 2^21 here instead of
// after two million sets interned first.
import { describe, expect, it } from 'vitest';
import { C_ATTR, C_REF, CHANGE_WORDS, emptyResult, packResult, sortByAttribute, unpackResult, type PeerContext } from '../../src/rib/apply.js';
import { RibPipeline } from '../../src/rib/pipeline.js';
import { encodeUpdate, AsPathSegmentType, AttrFlag, AttrType } from '../../src/packet/index.js';

const HIGH = 2 ** 21;

/** `n` change records, record i tagged with i in C_REF, its attribute id attr(i). */
function records(n: number, attr: (i: number) => number): Uint32Array {
  const c = new Uint32Array(n * CHANGE_WORDS);
  for (let i = 0; i < n; i++) {
    c[i * CHANGE_WORDS + C_ATTR] = attr(i);
    c[i * CHANGE_WORDS + C_REF] = i;
  }
  return c;
}

/** Every record of `input` exactly once in `sorted`, ids ascending, equal ids in input order. */
function expectSorted(input: Uint32Array, sorted: Uint32Array): void {
  const n = input.length / CHANGE_WORDS;
  expect(sorted.length).toBe(input.length);
  const seen = new Uint8Array(n);
  let problems = 0;
  for (let j = 0; j < n; j++) {
    const tag = sorted[j * CHANGE_WORDS + C_REF];
    const attr = sorted[j * CHANGE_WORDS + C_ATTR];
    if (tag >= n || seen[tag] || input[tag * CHANGE_WORDS + C_ATTR] !== attr) problems++;
    else seen[tag] = 1;
    if (j > 0) {
      const prevAttr = sorted[(j - 1) * CHANGE_WORDS + C_ATTR];
      if (prevAttr > attr || (prevAttr === attr && sorted[(j - 1) * CHANGE_WORDS + C_REF] > tag)) problems++;
    }
  }
  expect(problems, 'records lost, repeated, altered or out of order').toBe(0);
}

describe('change records sorted by attribute id', () => {
  it('keeps every record once around 2^21 and up to 2^32 - 1', () => {
    const ids = [1, 5, HIGH - 2, HIGH - 1, HIGH, HIGH + 1, HIGH + 7, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1];
    const c = records(5000, (i) => ids[(i * 7) % ids.length]);
    expectSorted(c, sortByAttribute(c));
  });

  it('with more records than 2^21', () => {
    let x = 12345;
    const c = records(HIGH + 3, () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> (x & 7));
    expectSorted(c, sortByAttribute(c));
  });

  it('a smaller set after a larger one (the sort keys are kept between calls)', () => {
    const a = records(3000, (i) => (i * 13) % 97);
    expectSorted(a, sortByAttribute(a));
    const b = records(2000, (i) => 50 - (i % 50));
    expectSorted(b, sortByAttribute(b));
  });

  it('through the worker result (packed, transferred, unpacked)', () => {
    const c = records(3000, (i) => HIGH - 1500 + ((i * 37) % 3000));
    const r = emptyResult();
    r.changes = c;
    r.announced = 7;
    const back = unpackResult(packResult(r));
    expect(back.announced).toBe(7);
    expectSorted(c, back.changes);
  });
});

const PEER_AS = 65480;

function announce(prefix: string, path: number[]): Uint8Array {
  return encodeUpdate(
    {
      withdrawn: [],
      attributes: [
        { type: AttrType.ORIGIN, flags: AttrFlag.Transitive, origin: 0 },
        { type: AttrType.AS_PATH, flags: AttrFlag.Transitive, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns: path }] },
        { type: AttrType.NEXT_HOP, flags: AttrFlag.Transitive, nextHop: '198.18.0.9' },
      ],
      nlri: [{ prefix }],
    },
    { asn4: true },
  );
}

describe('a RIB past 2^21 attribute sets', () => {
  it('reports every best-path change of a batch exactly once', async () => {
    const rib = new RibPipeline({ localAs: 65000, workers: 2, sizing: { shards: 8, prefixes: 16384, paths: 65536, attributeSets: HIGH + 16384, attributeIndex: HIGH * 4 } });
    try {
      // As if 2^21 - 100 sets were interned already.
      Atomics.store(rib.views.attrCounters, 0, HIGH - 100);
      const peer = rib.addPeer({ asn: PEER_AS, routerId: 1, address: 0x7f003002, ibgp: false });
      const N = 3000;
      const prefix = (k: number) => `10.${k >> 8}.${k & 255}.0/24`;
      // One prefix per UPDATE, each with its own AS_PATH: its own attribute set.
      const msgs = Array.from({ length: N }, (_, k) => announce(prefix(k), [PEER_AS, 20000 + k]));
      const total = msgs.reduce((s, m) => s + m.length, 0);
      const sab = new SharedArrayBuffer(total);
      const bytes = new Uint8Array(sab);
      const descriptors: number[] = [];
      let at = 0;
      for (const m of msgs) {
        bytes.set(m, at);
        descriptors.push(at, m.length);
        at += m.length;
      }
      const changes: Uint32Array[] = [];
      rib.on('changes', (r) => changes.push(r.changes));
      const ctx: PeerContext = { asn4: true, ebgp: true, addPath: false, import: 'accept' };
      // Two batches of 1,500 UPDATEs.
      const half = descriptors.length / 2;
      const results = await Promise.all([
        rib.submitUpdates(peer, ctx, sab, Uint32Array.from(descriptors.slice(0, half))),
        rib.submitUpdates(peer, ctx, sab, Uint32Array.from(descriptors.slice(half))),
      ]);
      expect(results.map((r) => r.error)).toEqual([undefined, undefined]);
      expect(results.map((r) => r.pathDelta)).toEqual([N / 2, N / 2]);
      expect(changes.length).toBe(2);
      const refs = new Set<number>();
      const attrs = new Set<number>();
      for (const c of changes) {
        for (let i = 0; i < c.length; i += CHANGE_WORDS) {
          refs.add(c[i + C_REF]);
          attrs.add(c[i + C_ATTR]);
        }
      }
      const records = changes.reduce((s, c) => s + c.length / CHANGE_WORDS, 0);
      expect(records).toBe(N);
      expect(refs.size, 'distinct prefixes among the change records').toBe(N);
      expect(attrs.size, 'distinct attribute ids among the change records').toBe(N);
      expect(Math.max(...attrs)).toBeGreaterThan(HIGH + N - 200);
    } finally {
      await rib.close();
    }
  });
});
