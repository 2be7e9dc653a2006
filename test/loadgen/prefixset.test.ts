import { describe, expect, it } from 'vitest';
import { PrefixSet } from '../../src/harness/loadgen/peer.js';
import { encodeUpdate } from '../../src/packet/index.js';

const upd = (nlri: string[], withdrawn: string[] = []) =>
  Buffer.from(encodeUpdate({ withdrawn: withdrawn.map((prefix) => ({ prefix })), attributes: [], nlri: nlri.map((prefix) => ({ prefix })) }, { asn4: true }));

describe('the sink\'s prefix set', () => {
  it('counts distinct prefixes through announcements, repeats and withdrawals', () => {
    const s = new PrefixSet();
    const apply = (b: Buffer) => s.apply(b, 0, b.length);
    apply(upd(['10.0.0.0/8', '10.0.0.0/16', '192.0.2.0/24']));
    apply(upd(['10.0.0.0/8']));
    expect([s.size, s.announced]).toEqual([3, 4]);
    apply(upd([], ['10.0.0.0/16', '198.51.100.0/24']));
    expect(s.size).toBe(2);
    apply(upd(['10.0.0.0/16']));
    expect(s.size).toBe(3);
  });

  it('grows past its first capacity without losing prefixes', () => {
    const s = new PrefixSet();
    for (let i = 0; i < 200_000; i += 500) {
      const b = upd(Array.from({ length: 500 }, (_, k) => `${11 + ((i + k) >> 16)}.${((i + k) >> 8) & 255}.${(i + k) & 255}.0/24`));
      s.apply(b, 0, b.length);
    }
    expect(s.size).toBe(200_000);
  });
});

describe('withdrawal streams', () => {
  it('withdraw every prefix a table announces, in UPDATEs that fit', async () => {
    const { withdrawalsOf } = await import('../../src/harness/loadgen/churn.js');
    const { generateTable } = await import('../../src/harness/tablegen/index.js');
    const t = generateTable({ seed: 2, ipv4Prefixes: 20_000, ipv6Prefixes: 0, senderAs: 65010 });
    const s = new PrefixSet();
    for (let o = 0; o < t.updates.length; o += t.updates.readUInt16BE(o + 16)) s.apply(t.updates, o, t.updates.readUInt16BE(o + 16));
    expect(s.size).toBe(20_000);
    const w = withdrawalsOf(t.updates);
    let messages = 0;
    for (let o = 0; o < w.length; o += w.readUInt16BE(o + 16)) {
      expect(w.readUInt16BE(o + 16)).toBeLessThanOrEqual(4096);
      s.apply(w, o, w.readUInt16BE(o + 16));
      messages++;
    }
    expect(s.size).toBe(0);
    expect(messages).toBeLessThan(t.messageCount);
  });
});
