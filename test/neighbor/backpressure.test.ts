// A full receive ring slows the peer down (TCP flow control) and loses nothing; a throw on one
// neighbor's events resets that session only, and never reaches the process.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MIN_RING_BYTES } from '../../src/io/ring.js';
import { State } from '../../src/neighbor/fsm.js';
import type { Neighbor } from '../../src/neighbor/neighbor.js';
import { CeaseSubcode, decodeNotification, encodeEndOfRib, ErrorCode, MessageType } from '../../src/packet/index.js';
import { captureLog, type RawPeer, until } from '../helpers/rawPeer.js';
import { establish, SlowIngest, startNeighbors, updateStream, type Feeds, type SlowIngestOptions } from './feeds.js';

const RS = '127.0.9.1';
const peerAddress = (i: number) => `127.0.9.${10 + i}`;

let logLines: string[] = [];
const cleanup: Array<() => unknown> = [];
const unexpected: unknown[] = [];

beforeAll(() => {
  logLines = captureLog();
  // Anything escaping the neighbors would otherwise end the run; record it to fail the test.
  process.on('uncaughtException', (e) => unexpected.push(e));
  process.on('unhandledRejection', (e) => unexpected.push(e));
});

afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function feeds(count: number, ingest: SlowIngest, ringBytes: (i: number) => number): Promise<Feeds> {
  const f = await startNeighbors(RS, Array.from({ length: count }, (_, i) => peerAddress(i)), (n, i) => {
    n.ingest = ingest;
    n.ringBytes = ringBytes(i);
  });
  cleanup.push(() => f.close());
  return f;
}

async function connect(f: Feeds, extended: (i: number) => boolean): Promise<RawPeer[]> {
  const peers = await Promise.all(f.neighbors.map((n, i) => establish(f, n, extended(i))));
  for (const p of peers) cleanup.push(() => p.close());
  return peers;
}

describe('receive ring backpressure', () => {
  it('keeps every UPDATE, in order, when eight peers fill small rings at once', async () => {
    const ingest = new SlowIngest({ maxDelayMs: 8 });
    // Half the rings at the smallest size, half a little larger; half the peers send messages of
    // up to 64 KiB (extended messages), which then fill half of the smallest ring each.
    const f = await feeds(8, ingest, (i) => (i % 2 ? MIN_RING_BYTES : 3 * 65536 + 4321));
    const extended = (i: number) => i % 4 >= 2;
    const peers = await connect(f, extended);
    const streams = peers.map((_, i) => updateStream(4 << 20, extended(i) ? 65535 : 4096, i + 1));
    peers.forEach((p, i) => p.send(streams[i].bytes));

    await until(
      () => f.neighbors.every((n, i) => ingest.of(n).updates >= streams[i].updates && ingest.of(n).inFlight === 0),
      120_000,
      'every UPDATE in the RIB stand-in',
    );
    expect(unexpected).toEqual([]);
    f.neighbors.forEach((n: Neighbor, i) => {
      const seen = ingest.of(n);
      expect(n.state, n.name).toBe(State.Established);
      expect(n.internalErrors, n.name).toBe(0);
      expect(n.establishedCount, n.name).toBe(1);
      expect(seen.updates, n.name).toBe(streams[i].updates);
      expect(seen.bytes, n.name).toBe(streams[i].updateBytes);
      expect(seen.hash.copy().digest('hex'), n.name).toBe(streams[i].sha256);
      expect(n.received.update, n.name).toBe(streams[i].updates);
      expect(seen.corrupted, n.name).toBe(0);
      // The ring did fill: batches completed while this neighbor's reading was paused.
      expect(seen.completedWhilePaused, n.name).toBeGreaterThan(0);
      expect(n.readingPaused, n.name).toBe(false);
    });
    expect(peers.every((p) => p.received.every((m) => m.type !== MessageType.NOTIFICATION))).toBe(true);
  });
});

describe('an exception on one neighbor', () => {
  /** Neighbor 0 is the one that fails; neighbor 1 must not notice. */
  async function oneFails(opts: SlowIngestOptions, arm: (n: Neighbor, p: RawPeer, ingest: SlowIngest) => void) {
    const ingest = new SlowIngest({ maxDelayMs: 4, ...opts });
    const f = await feeds(2, ingest, () => MIN_RING_BYTES);
    const peers = await connect(f, () => false);
    const [bad, good] = f.neighbors;
    const logFrom = logLines.length;
    const streams = peers.map((_, i) => updateStream(3 << 20, 4096, 100 + i));
    arm(bad, peers[0], ingest);
    peers.forEach((p, i) => p.send(streams[i].bytes));

    const cease = decodeNotification((await peers[0].waitFor(MessageType.NOTIFICATION, 30_000)).bytes);
    expect(cease.code).toBe(ErrorCode.Cease);
    expect(cease.subcode).toBe(CeaseSubcode.OutOfResources);
    await peers[0].waitClosed(30_000);
    await until(() => ingest.of(good).updates >= streams[1].updates && ingest.of(good).inFlight === 0, 120_000, 'the other peer done');

    expect(unexpected).toEqual([]);
    expect(bad.internalErrors).toBe(1);
    expect(bad.lastError).toMatchObject({ code: ErrorCode.Cease, subcode: CeaseSubcode.OutOfResources });
    expect(bad.state).not.toBe(State.Established);
    expect(logLines.slice(logFrom).filter((l) => l.includes('internal error')).length).toBe(1);
    // The other session went on untouched.
    expect(good.state).toBe(State.Established);
    expect(good.internalErrors).toBe(0);
    expect(good.establishedCount).toBe(1);
    expect(ingest.of(good).hash.copy().digest('hex')).toBe(streams[1].sha256);
    expect(peers[1].received.some((m) => m.type === MessageType.NOTIFICATION)).toBe(false);
    // Its back-off over, the failed neighbor takes connections again.
    await until(() => bad.state === State.Active, 10_000, 'the failed neighbor back to Active');
  }

  it('resets only that session when the RIB throws on its batch (the read path)', async () => {
    let fail: Neighbor | null = null;
    let calls = 0;
    await oneFails(
      {
        onSubmit: (n) => {
          if (n === fail && ++calls === 3) throw new Error('stand-in RIB failure');
        },
      },
      (n) => (fail = n),
    );
  });

  it('resets only that session when the RIB rejects its batch (a promise callback)', async () => {
    let fail: Neighbor | null = null;
    let calls = 0;
    await oneFails(
      {
        onSubmit: (n) => (n === fail && ++calls === 3 ? Promise.reject(new Error('stand-in RIB rejection')) : undefined),
      },
      (n) => (fail = n),
    );
  });

  it('resets only that session when a listener throws on End-of-RIB (framing)', async () => {
    await oneFails({}, (n, p) => {
      n.on('endOfRib', () => {
        throw new Error('listener failure');
      });
      p.send(encodeEndOfRib({ afi: 1, safi: 1 }));
    });
  });

  it('resets only that session when a timer callback throws', async () => {
    await oneFails({}, (n) => {
      // One of the neighbor's own timers, with a callback that throws.
      const timers = n as unknown as { setTimer(name: string, ms: number, fn: () => void): void };
      timers.setTimer('connectRetry', 20, () => {
        throw new Error('timer failure');
      });
    });
  });
});

describe('reading after a reset', () => {
  it('drops what a reset peer still sends into its full ring', async () => {
    // The session goes down after its first batch while the peer keeps sending megabytes.
    let target: Neighbor | null = null;
    const ingest = new SlowIngest({
      maxDelayMs: 20,
      onSubmit: (n) => {
        if (n === target) n.automaticStop(CeaseSubcode.OutOfResources, undefined, 3600);
      },
    });
    const f = await feeds(1, ingest, () => MIN_RING_BYTES);
    const [p] = await connect(f, () => false);
    target = f.neighbors[0];
    p.send(updateStream(8 << 20, 4096, 7).bytes);
    await p.waitClosed(30_000);
    expect(unexpected).toEqual([]);
    expect(target.internalErrors).toBe(0);
    expect(target.state).toBe(State.Idle);
  });
});
