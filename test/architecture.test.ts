// The rooms of src/ and which may import which (docs/architecture.md): read from the import
// lines of every source file. Data walks one way (socket -> framing -> ring -> worker -> shard ->
// changes -> Adj-RIB-Out -> writer -> socket), and so do the imports: the codec imports nothing
// of the speaker, the harness imports the product and never the reverse, and no two modules
// import each other, directly or around a circle.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');

/** The room a file belongs to: its first folder under src/, or its own name at the top. */
function room(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length === 1 ? rel[0].replace(/\.ts$/, '') : rel[0];
}

/** The harness: benchmarks, load and table generators. The product never imports it. */
const HARNESS = new Set(['harness', 'bench', 'loadgen', 'tablegen']);
const PRODUCT_ROOMS = ['util', 'log', 'packet', 'io', 'config', 'policy', 'rib', 'neighbor', 'advertise', 'speaker', 'mrt', 'bmp', 'api', 'nats'];

/** What each room of the product may import besides itself. */
const MAY_IMPORT: Record<string, string[]> = {
  util: [],
  log: [],
  packet: ['util'],
  io: ['packet'],
  policy: ['packet', 'util'],
  rib: ['packet', 'policy', 'util'],
  config: ['packet', 'io', 'policy', 'rib'], // policy rules, ring and RIB sizing are part of the config
  neighbor: ['packet', 'io', 'config', 'log', 'util'],
  advertise: ['packet', 'rib', 'policy', 'log', 'util'],
  speaker: ['packet', 'io', 'config', 'policy', 'rib', 'neighbor', 'advertise', 'log', 'util'],
  // MRT dumps are read from the shared RIB; of the speaker, only its peers' names and times.
  mrt: ['packet', 'rib', 'neighbor', 'speaker', 'config', 'log', 'util'],
  // BMP reads the speaker (its tap, neighbors' events) and walks the shared RIB.
  bmp: ['packet', 'rib', 'neighbor', 'speaker', 'config', 'log', 'util'],
  // The management plane reads the speaker and the shared RIB; only cli/ starts it.
  api: ['packet', 'config', 'rib', 'neighbor', 'speaker', 'mrt', 'bmp', 'log', 'util'],
  // The NATS feed and consumer: the speaker's events out (RIS Live messages as the API makes
  // them), other collectors' UPDATEs into the RIB; only cli/ starts them.
  nats: ['packet', 'config', 'rib', 'neighbor', 'speaker', 'api', 'log', 'util'],
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/**
 * Every relative import and re-export of every file, as file paths: all of them, or (`loads`)
 * only those that load a module at run time (`import type` loads nothing).
 */
function graph(loads = false): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of sources(SRC)) {
    const text = readFileSync(f, 'utf8');
    const deps = [...text.matchAll(/^\s*(?:import|export)\b(\s+type\b)?[^;]*?from\s+'(\.[^']+)'/gm)]
      .filter((m) => !loads || !m[1])
      .map((m) => path.resolve(path.dirname(f), m[2].replace(/\.js$/, '.ts')));
    g.set(f, deps);
  }
  return g;
}

const short = (f: string) => path.relative(SRC, f);

describe('import directions in src/', () => {
  const g = graph();

  it('reads the tree: every room it finds is a known one', () => {
    const rooms = new Set([...g.keys()].map(room));
    expect(g.size).toBeGreaterThan(50);
    const unknown = [...rooms].filter((r) => !(r in MAY_IMPORT) && !HARNESS.has(r) && r !== 'cli');
    expect(unknown, 'a new room needs its line in MAY_IMPORT and docs/architecture.md').toEqual([]);
  });

  it('each product room imports only what it may', () => {
    const wrong: string[] = [];
    for (const [f, deps] of g) {
      const from = room(f);
      if (!PRODUCT_ROOMS.includes(from)) continue;
      for (const d of deps) {
        const to = room(d);
        if (to !== from && !MAY_IMPORT[from].includes(to)) wrong.push(`${short(f)} -> ${short(d)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the product never imports the harness or the CLI', () => {
    const wrong = [...g].flatMap(([f, deps]) =>
      PRODUCT_ROOMS.includes(room(f)) ? deps.filter((d) => HARNESS.has(room(d)) || room(d) === 'cli').map((d) => `${short(f)} -> ${short(d)}`) : [],
    );
    expect(wrong).toEqual([]);
  });

  it('mrt/ knows the speaker by its types only (the speaker never waits on a dump)', () => {
    const wrong = [...graph(true)].flatMap(([f, deps]) => (room(f) === 'mrt' ? deps.filter((d) => room(d) === 'speaker').map((d) => `${short(f)} -> ${short(d)}`) : []));
    expect(wrong).toEqual([]);
  });

  it('the harness never imports the CLI', () => {
    const wrong = [...g].flatMap(([f, deps]) => (HARNESS.has(room(f)) ? deps.filter((d) => room(d) === 'cli').map((d) => `${short(f)} -> ${short(d)}`) : []));
    expect(wrong).toEqual([]);
  });

  it('no module loads itself through others (no cycles)', () => {
    // Type-only imports load nothing; a class may name the type of the one that extends it.
    const g = graph(true);
    // Tarjan's strongly connected components over the module graph.
    let next = 0;
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    const visit = (v: string): void => {
      index.set(v, next);
      low.set(v, next++);
      stack.push(v);
      onStack.add(v);
      for (const w of g.get(v) ?? []) {
        if (!g.has(w)) continue;
        if (!index.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
      if (low.get(v) === index.get(v)) {
        const c: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          c.push(short(w));
        } while (w !== v);
        if (c.length > 1) cycles.push(c);
      }
    };
    for (const v of g.keys()) if (!index.has(v)) visit(v);
    expect(cycles).toEqual([]);
  });
});
