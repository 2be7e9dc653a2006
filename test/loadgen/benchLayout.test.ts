// The bench's loopback plan for many peers and the config its ribstorm target runs with: every
// peer an address of its own, and a RIB sized for what the run loads.
import { describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { validateConfig } from '../../src/config/schema.js';
import { BENCH_LAYOUT, MAX_SENDERS, MAX_SINKS, sinkAt } from '../../src/harness/bench/convergence.js';
import { ribstormConfig } from '../../src/harness/bench/targets/index.js';
import { DEFAULT_SIZING } from '../../src/rib/memory.js';

const L = BENCH_LAYOUT;
const peers = (senders: number, sinks: number) => [
  ...Array.from({ length: sinks }, (_, i) => sinkAt(L, i)),
  ...Array.from({ length: senders }, (_, i) => L.sender(i)),
];

describe('the bench layout', () => {
  it('gives every sender and sink its own address, up to the most of each', () => {
    const all = [L.target, ...peers(MAX_SENDERS, MAX_SINKS)].map((p) => p.address);
    expect(new Set(all).size).toBe(all.length);
    for (const a of all) expect(a).toMatch(/^127\.0\.5\.([1-9]|[1-9]\d|1\d\d|2[0-4]\d|25[0-4])$/);
    // The first ten senders keep the addresses they always had.
    expect(L.sender(0).address).toBe('127.0.5.10');
    expect(L.sender(9).address).toBe('127.0.5.19');
    expect(new Set(Array.from({ length: MAX_SENDERS }, (_, i) => L.sender(i).asn)).size).toBe(MAX_SENDERS);
  });
});

describe("the ribstorm target's config", () => {
  // The bench's own layout takes a port found free when a run starts (its port is 0): any here.
  const port = 17900;
  const options = (load?: { prefixes: number; prefixes6: number; paths: number; attributeSets: number }) => ({
    address: L.target.address,
    port,
    asn: L.target.asn,
    routerId: '10.255.255.1',
    peers: peers(16, 1),
    workers: 2,
    load,
  });

  it('needs no RIB sizing for 16 full feeds', () => {
    // 16 synthetic feeds of 1M prefixes: 16M paths, 3.4M attribute sets.
    const c = validateConfig(parse(ribstormConfig(options({ prefixes: 1_000_000, prefixes6: 0, paths: 16_000_000, attributeSets: 3_406_880 }))));
    expect(c.neighbors.length).toBe(17);
    expect(c.neighbors.every((n) => n.passive && n.importPolicy && n.exportPolicy)).toBe(true);
    expect(c.rib.workers).toBe(2);
    expect(c.rib).toMatchObject({ prefixes: DEFAULT_SIZING.prefixes, paths: DEFAULT_SIZING.paths, attributeSets: DEFAULT_SIZING.attributeSets });
    expect(c.rib.paths).toBeGreaterThanOrEqual(16_000_000 * 1.25);
    expect(c.rib.attributeSets).toBeGreaterThanOrEqual(3_406_880 * 1.25);
    expect(c.global.listen).toEqual([{ address: L.target.address, port }]);
  });

  it('runs collector mode from its own [rib] table, with or without other RIB settings', () => {
    for (const workers of [2, undefined]) {
      const c = validateConfig(parse(ribstormConfig({ ...options(), workers, collector: true })));
      expect(c.rib.mode, `workers ${workers}`).toBe('collector');
      expect(c.api?.listen).toBeNull();
    }
    expect(validateConfig(parse(ribstormConfig({ ...options(), workers: undefined }))).rib.mode).toBe('speaker');
  });

  it('sizes the prefix tables for more prefixes than the default', () => {
    const c = validateConfig(parse(ribstormConfig(options({ prefixes: 2_000_000, prefixes6: 0, paths: 4_000_000, attributeSets: 500_000 }))));
    expect(c.rib.prefixes).toBeGreaterThanOrEqual(2_000_000 * 1.2);
    expect(c.rib.paths).toBe(DEFAULT_SIZING.paths);
  });

  it('keeps the defaults for a small run', () => {
    const c = validateConfig(parse(ribstormConfig(options({ prefixes: 20_000, prefixes6: 0, paths: 40_000, attributeSets: 5_000 }))));
    expect(c.rib).toMatchObject({ prefixes: DEFAULT_SIZING.prefixes, prefixes6: DEFAULT_SIZING.prefixes6, paths: DEFAULT_SIZING.paths, attributeSets: DEFAULT_SIZING.attributeSets });
  });
});
