// The consumer's reading of a feed message: each line's (or item's) `raw` UPDATE decoded into
// one shared buffer in order, whatever else the line holds; lines without a usable `raw`
// skipped and counted.
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { rawUpdates, type RawUpdates } from '../../src/nats/rawUpdates.js';
import { announce, attrs, withdraw } from '../helpers/lab.js';

const hex = (m: Uint8Array) => Buffer.from(m).toString('hex').toUpperCase();
const messages = (r: RawUpdates) =>
  Array.from({ length: r.descriptors.length / 2 }, (_, i) => Buffer.from(r.buffer, r.descriptors[2 * i], r.descriptors[2 * i + 1]).toString('hex'));

const a = announce(attrs([65001, 65002]), ['10.0.0.0/24', '10.0.1.0/24']);
const b = withdraw(['10.0.2.0/24']);
const c = announce(attrs([65003], [], '198.18.0.1'), ['192.0.2.0/24', '198.51.100.0/24']);
const line = (m: Uint8Array, fields = '"type":"UPDATE","path":[65001,65002]', raw = hex(m)) => `{"peer":"192.0.2.1","host":"c0",${fields},"raw":"${raw}"}`;
const enc = (lines: string[]) => new TextEncoder().encode(lines.join('\n'));

describe('rawUpdates', () => {
  it('JSON lines: every raw UPDATE in order, in one shared buffer', () => {
    // Fields with quotes, braces and a "raw" key inside strings before the real one.
    const tricky = '"note":"a \\"raw\\":\\"00\\" here","x":{"raw":"FF"}';
    const r = rawUpdates(enc([line(a), line(b, tricky), line(c)]), 'json');
    expect(r.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(messages(r)).toEqual([a, b, c].map((m) => Buffer.from(m).toString('hex')));
    expect(r.skipped).toBe(0);
    // Lower-case hex reads the same.
    expect(messages(rawUpdates(enc([line(a, undefined, hex(a).toLowerCase())]), 'json'))).toEqual([Buffer.from(a).toString('hex')]);
  });

  it('JSON lines: a line without a usable raw is skipped and counted, the others kept', () => {
    const lines = [
      line(a),
      '{"peer":"192.0.2.1","type":"UPDATE"}', // no raw
      line(b, undefined, 'FFFF'), // shorter than a BGP header
      line(b, undefined, `${hex(b)}0`), // odd length
      line(b, undefined, `${hex(b).slice(0, -2)}ZZ`), // not hex
      `{"raw":"${hex(b)}","peer":"192.0.2.1"}`, // raw not last
      `${line(b)} `, // not ending the object
      '',
      line(c),
    ];
    const r = rawUpdates(enc(lines), 'json');
    expect(messages(r)).toEqual([a, c].map((m) => Buffer.from(m).toString('hex')));
    expect(r.skipped).toBe(lines.length - 2);
  });

  it('a payload inside a larger buffer (as the client hands it) is read from its own bytes only', () => {
    const text = enc([line(a), line(b)]);
    const big = new Uint8Array(text.length + 20).fill(0x41);
    big.set(text, 10);
    const r = rawUpdates(big.subarray(10, 10 + text.length), 'json');
    expect(messages(r)).toEqual([a, b].map((m) => Buffer.from(m).toString('hex')));
  });

  it('msgpack: each item\'s raw, items without one skipped', () => {
    const items = [{ type: 'UPDATE', raw: hex(a) }, { type: 'UPDATE' }, { raw: 'F00' }, { raw: hex(b), peer: '192.0.2.1' }];
    const r = rawUpdates(new Uint8Array(pack(items)), 'msgpack');
    expect(messages(r)).toEqual([a, b].map((m) => Buffer.from(m).toString('hex')));
    expect(r.skipped).toBe(2);
    expect(rawUpdates(new Uint8Array(pack({ raw: hex(a) })), 'msgpack')).toMatchObject({ skipped: 1 });
  });

  it('nothing usable: an empty batch', () => {
    const r = rawUpdates(enc(['{"type":"UPDATE"}']), 'json');
    expect(r.descriptors.length).toBe(0);
    expect(r.skipped).toBe(1);
  });
});
