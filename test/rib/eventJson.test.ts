// The UPDATE event written straight from the bytes (rib/eventJson.ts) against the codec's way
// (rib/events.ts eventText): on real trace UPDATEs and on fuzzed ones, whenever the fast writer
// answers, its text is the codec's text, character for character; and it does answer for
// clean UPDATEs, so the comparison is not empty.
import { describe, expect, it } from 'vitest';
import { updateEventJson } from '../../src/rib/eventJson.js';
import { eventText } from '../../src/rib/events.js';
import { endOfRibFamily, decodeUpdate } from '../../src/packet/index.js';
import { makeCase, Rng, syntheticSeed, traceSeeds, type Seed } from '../fuzz/mutate.js';

const ctxOf = (c: { asn4: boolean; ebgp: boolean; addPath4: boolean; addPath6: boolean }) => ({ asn4: c.asn4, ebgp: c.ebgp, addPath: { ipv4: c.addPath4, ipv6: c.addPath6 } });

function compare(msg: Uint8Array, ctx: ReturnType<typeof ctxOf>, raw: boolean): 'fast' | 'codec' | 'skip' {
  if (msg.length < 23 || endOfRibFamily(msg)) return 'skip';
  const watch = { time: 1764640000.25, raw };
  const fast = updateEventJson(msg, ctx, watch.time, raw);
  if (fast === null) return 'codec';
  expect(fast).toBe(eventText(msg, ctx, watch));
  JSON.parse(fast);
  return 'fast';
}

describe('UPDATE events written from the bytes', () => {
  it('equal the codec’s events on real trace UPDATEs, and cover the clean ones', async () => {
    const seeds: Seed[] = await traceSeeds(300);
    const rng = new Rng(7);
    for (let i = 0; i < 600; i++) seeds.push(syntheticSeed(rng)); // enough even without the shared traces
    let fast = 0;
    let clean = 0;
    for (const s of seeds) {
      const ctx = ctxOf(s.ctx);
      const r = compare(s.msg, ctx, s.msg.length % 2 === 0);
      if (r === 'fast') fast++;
      let ok = false;
      try {
        const u = decodeUpdate(s.msg, ctx);
        ok = !u.treatAsWithdraw && u.discarded.length === 0 && s.ctx.asn4;
      } catch {
        ok = false;
      }
      if (ok) clean++;
    }
    expect(clean).toBeGreaterThan(100);
    // Nearly every clean UPDATE on a 4-octet session takes the fast way (not other families).
    expect(fast).toBeGreaterThan(clean * 0.8);
  });

  it('equal the codec’s events on 20,000 fuzzed UPDATEs', async () => {
    const seeds = await traceSeeds(100);
    const rng = new Rng(11);
    const seen = { fast: 0, codec: 0, skip: 0 };
    for (let i = 0; i < 20_000; i++) {
      const c = makeCase(seeds, rng);
      seen[compare(c.msg, ctxOf(c.ctx), rng.chance(0.3))]++;
    }
    expect(seen.fast).toBeGreaterThan(2000);
    expect(seen.codec).toBeGreaterThan(2000);
  });
});
