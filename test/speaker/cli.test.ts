// The command line, as a user runs it (`node bin/ribstorm.js ...`), on small sizes: `plan`,
// `loadtest` against a `ribstorm run` child on a free port, and `bench` with churn. Each run's
// output is checked for its shape and for agreeing with itself (counts, rates, models).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, sharedFile } from '../helpers/env.js';
import { until } from '../helpers/rawPeer.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(REPO, 'bin/ribstorm.js');
const TARGET = '127.0.46.1';
const dir = mkdtempSync(path.join(tmpdir(), 'ribstorm-cli-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; out: () => Run; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const out = () => ({ code: child.exitCode, stdout, stderr });
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, out, done };
}

const cli = (args: string[]) => start(args).done;

/** "1,234,567" -> 1234567 */
const num = (s: string) => Number(s.replace(/,/g, ''));

/** The rows of a Markdown table in `text` whose header starts with `| target |`, as objects. */
function tableRows(text: string): Array<Record<string, string>> {
  const lines = text.split('\n').filter((l) => l.startsWith('|'));
  const header = lines[0].split('|').slice(1, -1).map((s) => s.trim());
  return lines.slice(2).map((l) => Object.fromEntries(l.split('|').slice(1, -1).map((c, i) => [header[i], c.trim()])));
}

describe('ribstorm plan', () => {
  it('measures runs at 1, 2 and 4 feeds and projects time and memory from its own model', async () => {
    const r = await cli(['plan', '--peers', '8', '--table', '20000', '--feeds', '1,2,4', '--rounds', '1']);
    expect(r.code, r.stderr).toBe(0);
    const runs = [...r.stderr.matchAll(/^run (\d+) x ([\d,]+): converged in ([\d.]+) s, peak RSS ([\d,]+) MB$/gm)].map((m) => ({
      peers: Number(m[1]), prefixes: num(m[2]), seconds: Number(m[3]), mb: num(m[4]),
    }));
    expect(runs.map((p) => `${p.peers}x${p.prefixes}`)).toEqual(['1x20000', '2x20000', '4x20000']);
    for (const p of runs) expect(p.mb, `peak RSS of ${p.peers} feed(s)`).toBeGreaterThan(20);

    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    const time = lines[0].match(/^time: (-?[\d.]+) s \+ (-?[\d.]+) s per 1M paths \+ (-?[\d.]+) s per 1M paths per peer$/);
    expect(time, lines[0]).not.toBeNull();
    const [a, b, c] = time!.slice(1).map(Number);
    const memory = lines[1].match(/^memory: (-?[\d,]+) MB \+ (-?\d+) bytes per path \(peak RSS\)$/);
    expect(memory, lines[1]).not.toBeNull();
    const [fixedMb, perPath] = [num(memory![1]), Number(memory![2])];
    // Three runs, three time terms: the model passes through them (up to rounding as printed).
    const residuals = [...lines[2].matchAll(/(\d) feed\(s\) time ([+-][\d.]+)%, memory ([+-][\d.]+)%/g)];
    expect(residuals.map((m) => Number(m[1]))).toEqual([1, 2, 4]);
    for (const p of runs) {
      const t = a + (b * p.peers * 20_000) / 1e6 + (c * p.peers * p.peers * 20_000) / 1e6;
      expect(Math.abs(t - p.seconds), `time model at ${p.peers} feed(s)`).toBeLessThan(0.02);
    }
    expect(lines[3]).toMatch(/^each run predicted from the others: 1 feed\(s\) time [+-][\d.]+%, memory [+-][\d.]+%; 2 feed/);
    const target = lines[4].match(/^8 peers x 20,000 prefixes = ([\d,]+) paths: converged in about (-?[\d.]+) s, peak RSS about (-?[\d,]+) MB \(beyond the runs measured: 1-4 feeds\); one worker\(s\) per core on \d+ core\(s\); no \[rib\] sizing needed$/);
    expect(target, lines[4]).not.toBeNull();
    expect(num(target![1])).toBe(160_000);
    // The projection is the model at the size asked for.
    expect(Math.abs(Number(target![2]) - (a + b * 0.16 + c * 0.16 * 8))).toBeLessThan(0.06);
    expect(Math.abs(num(target![3]) - (fixedMb + (perPath * 160_000) / 1e6))).toBeLessThanOrEqual(2);
  }, 120_000);

  it('refuses a table under 1000 prefixes, naming the flag', async () => {
    const r = await cli(['plan', '--table', '10']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ribstorm: --table: expected full or a prefix count from 1000 to 2000000, got "10"/);
  });
});

describe('ribstorm loadtest', () => {
  it('blasts two feeds through a `ribstorm run` on a free port: every prefix at the sink, none lost', async () => {
    const port = await freePort(TARGET);
    // The layout loadtest uses: the sink from 127.0.5.2 (AS 65001), senders from 127.0.5.10, .11.
    const peer = (spec: string) => ['--peer', `${spec},passive,import-policy=accept,export-policy=accept`];
    const router = start(['run', '--as', '65000', '--router-id', '10.0.46.1', '--listen', `${TARGET}:${port}`, '--workers', '2', ...peer('127.0.5.2:65001'), ...peer('127.0.5.10:65010'), ...peer('127.0.5.11:65011')]);
    await until(() => router.out().stderr.includes(`listening on ${TARGET} port ${port}`) || router.out().code !== null, 10_000, 'ribstorm run listening');
    expect(router.out().code, router.out().stderr).toBeNull();

    const json = path.join(dir, 'loadtest.json');
    const r = await cli(['loadtest', '--target', `${TARGET}:${port}`, '--target-as', '65000', '--peers', '2', '--prefixes', '20000', '--target-pid', String(router.child.pid), '--json', json]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toContain('tables: 2 x 20,000 synthetic IPv4 prefixes; the sink must hold 20,000 prefixes');
    expect(r.stderr).toContain('127.0.5.2 AS65001, 127.0.5.10 AS65010, 127.0.5.11 AS65011');

    const [row] = tableRows(r.stdout);
    expect(row.target).toBe(`${TARGET}:${port}`);
    expect(row['prefixes at sink']).toBe('20,000 of 20,000');
    expect(row['lost / unexpected']).toBe('0 / 0');
    expect(row.verdict).toBe('converged');
    expect(row['peak RSS']).toMatch(/^\d+ MB$/);
    expect(Number(row['peak RSS'].split(' ')[0])).toBeGreaterThan(0);

    const j = JSON.parse(readFileSync(json, 'utf8'));
    expect(j).toMatchObject({ peers: 2, sinks: 1, prefixes: 20_000, prefixesAtSink: 20_000, lost: 0, unexpected: 0, verdict: 'converged' });
    expect(j.seconds).toBeGreaterThan(0);
    expect(j.settledSeconds).toBeGreaterThanOrEqual(j.seconds);
    expect(j.pathsPerSecond).toBe(Math.round((2 * 20_000) / j.seconds));
    expect(row['converged in']).toBe(`${j.seconds.toFixed(2)} s`);
    expect(num(row['paths/s'])).toBe(j.pathsPerSecond);
    // The sink's curve only grows while the table comes in and ends with what the sink holds.
    const curve: Array<[number, number]> = j.curve;
    for (let i = 1; i < curve.length; i++) expect(curve[i][1]).toBeGreaterThanOrEqual(curve[i - 1][1]);
    expect(curve.at(-1)![1]).toBe(j.prefixesAtSink);
    expect(j.updatesAtSink).toBeGreaterThan(0);

    // The router took it all and still stops cleanly on SIGTERM.
    expect(router.out().code).toBeNull();
    router.child.kill('SIGTERM');
    const end = await router.done;
    expect(end.code).toBe(0);
    expect(end.stderr).toContain('SIGTERM: sending Cease / Administrative Shutdown to every peer');
  }, 60_000);

  it('says which flag is missing', async () => {
    const r = await cli(['loadtest', '--target-as', '65000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ribstorm: --target: expected the router to test/);
  });
});

describe('ribstorm bench with churn', () => {
  const churnRun = async (churn: string, column: string) => {
    const json = path.join(dir, `bench-${churn}.json`);
    const r = await cli(['bench', '--targets', 'ribstorm', '--peers', '1', '--prefixes', '20000', '--churn', churn, '--json', json]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const rows = tableRows(r.stdout);
    expect(rows.map((x) => x.target)).toEqual(['ribstorm', 'load generator alone']);
    const row = rows[0];
    expect(row['peers x prefixes']).toBe('1 x 20,000');
    expect(row['lost / unexpected']).toBe('0 / 0');
    expect(row.verdict).toBe('converged');
    expect(row[column]).toMatch(/^\d+\.\d\d s$/);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report).toHaveLength(1);
    expect(report[0].tables).toBe('1 x 20,000 synthetic IPv4 prefixes');
    expect(report[0].loadGenerator.announced).toBe(20_000);
    const res = report[0].results[0];
    expect(res).toMatchObject({ target: 'ribstorm', peers: 1, prefixes: 20_000, lost: 0, unexpected: 0, verdict: 'converged' });
    expect(res.pathsPerSecond).toBe(Math.round(20_000 / res.seconds));
    return { row, res };
  };

  it('--churn withdraw-all: the sink ends empty, and the report says when', async () => {
    const { row, res } = await churnRun('withdraw-all', 'all withdrawn in');
    expect(res.withdrawnSeconds).toBeGreaterThanOrEqual(0);
    expect(row['all withdrawn in']).toBe(`${res.withdrawnSeconds.toFixed(2)} s`);
    expect(res.prefixesAtSink).toBe(0); // at the end of the run, after the withdrawal
    // The curve of prefixes at the sink ends where the sink ended.
    expect(res.curve.at(-1)[1], 'last point of the curve').toBe(res.prefixesAtSink);
  }, 30_000);

  it('--churn flap: the sink holds the whole table again', async () => {
    const { row, res } = await churnRun('flap', 'flap: re-converged in');
    expect(res.reconvergedSeconds).toBeGreaterThanOrEqual(0);
    expect(row['flap: re-converged in']).toBe(`${res.reconvergedSeconds.toFixed(2)} s`);
    expect(res.prefixesAtSink).toBe(20_000);
    expect(res.curve.at(-1)[1]).toBe(20_000);
  }, 30_000);

  it('--churn latency: every flap and every best-path change seen at the receiver, with p50, p99 and max', async () => {
    const json = path.join(dir, 'bench-latency.json');
    const r = await cli(['bench', '--targets', 'ribstorm', '--peers', '2', '--prefixes', '20000', '--churn', 'latency', '--rate', '500', '--json', json]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const res = JSON.parse(readFileSync(json, 'utf8'))[0].results[0];
    const l = res.latency;
    expect(l.rate).toBe(500);
    for (const f of [l.announce, l.withdraw, l.better, l.worse]) {
      expect(f).toMatchObject({ sent: 2500, seen: 2500 }); // 5 s at 500 a second, each way
      expect(f.p50Ms).toBeGreaterThan(0);
      expect(f.p50Ms).toBeLessThanOrEqual(f.p99Ms);
      expect(f.p99Ms).toBeLessThanOrEqual(f.maxMs);
    }
    expect(res.prefixesAtSink).toBe(20_000); // the new prefixes came and went; the changed ones stayed
    const [row] = tableRows(r.stdout);
    const one = (f: { p50Ms: number; p99Ms: number; maxMs: number }) => `p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms, max ${f.maxMs} ms`;
    expect(row['UPDATE in to change out: announce / withdraw; best-path change: better / worse']).toBe(
      `500 UPDATEs/s: ${one(l.announce)} / ${one(l.withdraw)}; best-path change: ${one(l.better)} / ${one(l.worse)}`,
    );
    const bad = await cli(['bench', '--rate', '500']);
    expect(bad.stderr.trim()).toMatch(/^ribstorm: --rate: expected only with --churn latency/);
  }, 60_000);

  const trace = sharedFile('data/mrt/updates/routeviews.route-views.jinx.updates.1401493500.bz2');
  it.skipIf(!trace)('--replay: plays a real update trace after convergence and reports it', async () => {
    const json = path.join(dir, 'bench-replay.json');
    const r = await cli(['bench', '--targets', 'ribstorm', '--peers', '1', '--prefixes', '20000', '--replay', trace!, '--speed', '1000', '--json', json]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const m = r.stderr.match(/^replay: ([\d,]+) UPDATEs of (\S+) over (\d+) s, at 1000x \((\d+) skipped\)$/m);
    expect(m, r.stderr).not.toBeNull();
    const res = JSON.parse(readFileSync(json, 'utf8'))[0].results[0];
    expect(res.replay.messages).toBe(num(m![1]));
    expect(res.replay.messages).toBeGreaterThan(0);
    // Played at 1000x: no faster than the trace allows.
    expect(res.replay.seconds).toBeGreaterThanOrEqual(Number(m![3]) / 1000 - 0.5);
    expect(res.replay.sinkUpdates).toBeGreaterThanOrEqual(0);
    const [row] = tableRows(r.stdout);
    expect(row['trace replay']).toBe(`${res.replay.messages} UPDATEs in ${res.replay.seconds.toFixed(1)} s, ${res.replay.sinkUpdates} at the sink, settled ${res.replay.settleSeconds.toFixed(2)} s after`);
  }, 30_000);
});
