// Receivers of a RIB that holds more than 2^21 attribute sets (16 full feeds intern 3.4M):
// one sent every change as it comes, one whose changes are held and collapsed during its
// advertisement interval. Both end up with exactly the sender's table. The attribute ids
// start just below 2^21 instead of after two million sets interned first.
import { beforeAll, describe, expect, it } from 'vitest';
import { captureLog, until } from '../helpers/rawPeer.js';
import { announce, attrs, LOCAL_AS, OPEN_POLICY, pathOf, startLab, Table, useCleanup, withdraw } from '../helpers/lab.js';

const RS = '127.0.48.1';
const SRC = '127.0.48.2'; // AS 65482
const NOW = '127.0.48.8'; // AS 65488, no advertisement interval
const MRAI = '127.0.48.9'; // AS 65489, advertisement interval 1 s
const MARKER = '198.51.100.0/24';
const N = 3000;
const add = useCleanup();
beforeAll(() => {
  captureLog();
});

const prefix = (k: number) => `10.${k >> 8}.${k & 255}.0/24`;

/** Differences between the expected and the received table, at most five. */
function diff(want: Map<string, string>, got: Table): string[] {
  const out: string[] = [];
  const routes = got.sync().routes;
  for (const [p, path] of want) {
    const have = routes.has(p) ? pathOf(routes.get(p))!.join(' ') : undefined;
    if (have !== path) out.push(`${p}: want [${path}] got ${have === undefined ? 'nothing' : `[${have}]`}`);
  }
  for (const p of routes.keys()) if (!want.has(p)) out.push(`${p}: unexpected`);
  return out.slice(0, 5);
}

describe('attribute ids past 2^21', () => {
  it('every receiver gets every prefix with its latest path', async () => {
    const lab = await startLab(
      add,
      RS,
      [
        { address: SRC, 'remote-as': 65482, ...OPEN_POLICY },
        { address: NOW, 'remote-as': 65488, ...OPEN_POLICY },
        { address: MRAI, 'remote-as': 65489, 'advertisement-interval': 1, ...OPEN_POLICY },
      ],
      { prefixes: 16384, paths: 65536, attributeSets: 2 ** 21 + 16384 },
    );
    // As if 2^21 - 100 sets were interned already.
    Atomics.store(lab.speaker.rib!.views.attrCounters, 0, 2 ** 21 - 100);
    const now = new Table(await lab.peer(NOW, 65488));
    const mrai = new Table(await lab.peer(MRAI, 65489));
    const src = await lab.peer(SRC, 65482);

    // Every prefix with a path of its own (its own attribute set), then another, then the
    // first again (A -> B -> A), then every tenth withdrawn.
    const first = (k: number) => [65482, 20000 + k];
    const second = (k: number) => [65482, 30000 + k];
    for (const path of [first, second, first]) {
      for (let k = 0; k < N; k++) src.send(announce(attrs(path(k)), [prefix(k)]));
    }
    const gone = Array.from({ length: N / 10 }, (_, i) => prefix(i * 10));
    src.send(withdraw(gone));
    src.send(announce(attrs([65482]), [MARKER])); // last: once a receiver has it, it has the rest

    const want = new Map<string, string>();
    for (let k = 0; k < N; k++) if (k % 10) want.set(prefix(k), [LOCAL_AS, ...first(k)].join(' '));
    want.set(MARKER, `${LOCAL_AS} 65482`);

    // A lost change can be the marker's own: then the tables below tell what is missing.
    await until(() => now.has(MARKER) && mrai.has(MARKER), 15_000, 'the marker at both receivers').catch(() => {});
    expect(diff(want, now)).toEqual([]);
    expect(diff(want, mrai)).toEqual([]);
    // Its changes were held and collapsed: fewer UPDATEs than the other receiver got.
    expect(mrai.updates).toBeLessThan(now.updates);
    expect(lab.speaker.advertisedPrefixes(lab.speaker.neighbors.get(NOW)!)).toBe(want.size);
    expect(lab.speaker.advertisedPrefixes(lab.speaker.neighbors.get(MRAI)!)).toBe(want.size);
  }, 60_000);
});
