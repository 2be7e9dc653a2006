// `receive-buffer` per neighbor: the octets one peer may have waiting for the RIB, the receive
// ring of each of its connections. A peer that sends faster than the RIB takes in fills it;
// reading then pauses (TCP pushes back on the peer) and nothing is lost: every route arrives.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/schema.js';
import { MIN_RING_BYTES } from '../../src/io/ring.js';
import { generateTable } from '../../src/harness/tablegen/index.js';
import { State } from '../../src/neighbor/fsm.js';
import { until } from '../helpers/rawPeer.js';
import { OPEN_POLICY, startLab, useCleanup } from '../helpers/lab.js';

const RS = '127.0.47.1';
const P = '127.0.47.2';
const add = useCleanup();

describe('receive-buffer', () => {
  it('in the config: octets from the smallest ring that cannot stall; absent: 4 MiB', () => {
    const base = { global: { asn: 65000, 'router-id': '10.0.0.1' } };
    const n = (extra: Record<string, unknown>) => validateConfig({ ...base, neighbors: [{ address: P, 'remote-as': 65472, ...extra }] }).neighbors[0];
    expect(n({}).receiveBuffer).toBeUndefined();
    expect(n({ 'receive-buffer': 1 << 20 }).receiveBuffer).toBe(1 << 20);
    expect(() => n({ 'receive-buffer': 1024 })).toThrow(new RegExp(`receive-buffer: expected octets from ${MIN_RING_BYTES} to`));
  });

  it('a peer sending 100,000 prefixes into the smallest buffer: reading pauses, every route arrives', { timeout: 60_000 }, async () => {
    const lab = await startLab(add, RS, [{ address: P, 'remote-as': 65472, ...OPEN_POLICY, 'receive-buffer': MIN_RING_BYTES }], { prefixes: 131072, paths: 262144, attributeSets: 131072 });
    const n = lab.speaker.neighbors.get(P)!;
    expect(n.ringBytes).toBe(MIN_RING_BYTES);
    const p = await lab.peer(P, 65472);
    const table = generateTable({ seed: 3, ipv4Prefixes: 100_000, ipv6Prefixes: 0, variant: 0, senderAs: 65472 });
    expect(table.updates.length).toBeGreaterThan(10 * MIN_RING_BYTES); // far more than fits
    let paused = 0;
    const watch = setInterval(() => n.readingPaused && paused++, 1);
    try {
      p.send(table.updates);
      await until(() => lab.speaker.receivedPaths(n) === 100_000, 50_000, 'all 100,000 paths in the RIB');
    } finally {
      clearInterval(watch);
    }
    expect(paused, 'reading seen paused while the ring was full').toBeGreaterThan(0);
    expect(lab.state(P)).toBe(State.Established);
  });
});
