// A receiver that stops reading while a large table goes through ribstorm: what is queued for
// it is held and collapsed instead of holding back everyone else, and once it reads again it
// ends up with exactly the table a fast receiver got: every prefix, each with its latest path,
// nothing that was withdrawn.
import { beforeAll, describe, expect, it } from 'vitest';
import { State } from '../../src/neighbor/fsm.js';
import { AttrType, decodeUpdate, MessageType } from '../../src/packet/index.js';
import { withdrawalsOf } from '../../src/harness/loadgen/churn.js';
import { generateTable } from '../../src/harness/tablegen/index.js';
import { captureLog, until } from '../helpers/rawPeer.js';
import { announce, attrs, LOCAL_AS, OPEN_POLICY, startLab, Table, useCleanup } from '../helpers/lab.js';

const RS = '127.0.45.1';
const SRC = '127.0.45.2'; // AS 65452
const FAST = '127.0.45.8'; // AS 65458
const SLOW = '127.0.45.9'; // AS 65459
const PREFIXES = 200_000;
const MARKER = '198.51.100.0/24';
const add = useCleanup();
beforeAll(() => {
  captureLog();
});

/** Every UPDATE in a concatenated stream. */
function* messages(b: Buffer): Generator<Uint8Array> {
  for (let off = 0; off < b.length; off += b.readUInt16BE(off + 16)) yield b.subarray(off, off + b.readUInt16BE(off + 16));
}

/** prefix -> AS_PATH (as text) after applying the streams in order, as the sender sent them. */
function expectedTable(streams: Buffer[]): Map<string, string> {
  const t = new Map<string, string>();
  for (const s of streams) {
    for (const m of messages(s)) {
      const u = decodeUpdate(m, { asn4: true });
      for (const w of u.withdrawn) t.delete(w.prefix);
      const path = (u.attributes.find((a) => a.type === AttrType.AS_PATH) as { segments: Array<{ asns: number[] }> } | undefined)?.segments.flatMap((x) => x.asns);
      for (const n of u.nlri) t.set(n.prefix, [LOCAL_AS, ...path!].join(' '));
    }
  }
  return t;
}

/** What a receiver holds, in the same form. */
function held(t: Table): Map<string, string> {
  const out = new Map<string, string>();
  for (const [prefix, a] of t.sync().routes) {
    const path = (a.find((x) => x.type === AttrType.AS_PATH) as { segments: Array<{ asns: number[] }> } | undefined)?.segments.flatMap((x) => x.asns);
    out.set(prefix, (path ?? []).join(' '));
  }
  return out;
}

/** Differences between two tables, at most `max` of them, for a readable failure. */
function diff(want: Map<string, string>, got: Map<string, string>, max = 5): string[] {
  const out: string[] = [];
  for (const [p, path] of want) {
    if (got.get(p) !== path) out.push(`${p}: want [${path}] got ${got.has(p) ? `[${got.get(p)}]` : 'nothing'}`);
    if (out.length >= max) return out;
  }
  for (const p of got.keys()) {
    if (!want.has(p)) out.push(`${p}: unexpected [${got.get(p)}]`);
    if (out.length >= max) return out;
  }
  return out;
}

describe('a slow receiver', () => {
  it('gets exactly the right table once it reads again, and does not hold back the others', async () => {
    // The table, every prefix again with other paths, both once more, then a quarter withdrawn:
    // more than ribstorm queues for one peer before it holds changes back (8 MiB).
    const first = generateTable({ seed: 45, ipv4Prefixes: PREFIXES, ipv6Prefixes: 0, variant: 0, senderAs: 65452 });
    const second = generateTable({ seed: 45, ipv4Prefixes: PREFIXES, ipv6Prefixes: 0, variant: 1, senderAs: 65452 });
    let quarter = 0; // the end of the first quarter of its UPDATEs
    for (let n = 0; n < first.messageCount / 4; n++) quarter += first.updates.readUInt16BE(quarter + 16);
    const gone = withdrawalsOf(first.updates.subarray(0, quarter));
    const stream = [first.updates, second.updates, first.updates, second.updates, gone];
    const want = expectedTable(stream);
    expect(want.size).toBeGreaterThan(PREFIXES / 2);
    expect(want.size).toBeLessThan(PREFIXES);
    want.set(MARKER, `${LOCAL_AS} 65452`);

    const lab = await startLab(
      add,
      RS,
      [
        { address: SRC, 'remote-as': 65452, ...OPEN_POLICY },
        { address: FAST, 'remote-as': 65458, ...OPEN_POLICY },
        { address: SLOW, 'remote-as': 65459, ...OPEN_POLICY },
      ],
      { prefixes: 400_000, paths: 1_000_000, attributeSets: 1_000_000 },
    );
    const fast = new Table(await lab.peer(FAST, 65458));
    const slowPeer = await lab.peer(SLOW, 65459);
    const slow = new Table(slowPeer);
    const src = await lab.peer(SRC, 65452);
    slowPeer.socket.pause();

    for (const s of stream) src.send(s);
    // Sent last. Within one round of UPDATEs announcements go before withdrawals, so a receiver
    // that has the marker may still be reading the last withdrawals: wait for its table to match.
    src.send(announce(attrs([65452]), [MARKER]));
    await until(() => fast.has(MARKER), 60_000, 'the whole stream at the fast receiver');
    await until(() => diff(want, held(fast)).length === 0, 10_000, 'the fast receiver settled').catch(() => {});

    // The fast receiver is complete while the slow one still has not read its share.
    const atFast = held(fast);
    expect(diff(want, atFast)).toEqual([]);
    expect(slow.has(MARKER)).toBe(false);
    expect(lab.speaker.neighbors.get(SLOW)!.outputBacklog, 'bytes queued for the slow receiver').toBeGreaterThan(0);
    expect(lab.state(SLOW)).toBe(State.Established);

    slowPeer.socket.resume();
    await until(() => slow.has(MARKER), 60_000, 'the whole stream at the slow receiver');
    await until(() => diff(want, held(slow)).length === 0, 10_000, 'the slow receiver settled').catch(() => {});
    const atSlow = held(slow);
    expect(diff(want, atSlow)).toEqual([]);
    expect(atSlow.size).toBe(want.size);
    // It was sent no more than the fast one: held changes were collapsed, not replayed.
    expect(slow.updates).toBeLessThanOrEqual(fast.updates);
    expect(slowPeer.received.some((m) => m.type === MessageType.NOTIFICATION)).toBe(false);
  }, 120_000);
});
