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
  it('fits six probes and projects RAM, time and sizing that follow from its own model', async () => {
    const r = await cli(['plan', '--peers', '4', '--table', '100000', '--workers', '1']);
    expect(r.code, r.stderr).toBe(0);
    const probes = [...r.stderr.matchAll(/^probe (\d+) x ([\d,]+): (\d+) MB for ([\d,]+) paths, ingest ([\d.]+) s$/gm)].map((m) => ({
      peers: Number(m[1]), prefixes: num(m[2]), mb: Number(m[3]), paths: num(m[4]), seconds: Number(m[5]),
    }));
    expect(probes.map((p) => `${p.peers}x${p.prefixes}`)).toEqual(['1x100000', '2x100000', '1x200000', '2x200000', '1x400000', '2x400000']);
    for (const p of probes) expect(p.paths, `paths of probe ${p.peers} x ${p.prefixes}`).toBe(p.peers * p.prefixes);

    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    const model = lines[0].match(/^model: (\d+) MB fixed \+ (\d+) bytes per prefix \+ (\d+) bytes per path \(largest error on the probes ([\d.]+)%\)$/);
    expect(model, lines[0]).not.toBeNull();
    const [fixedMb, perPrefix, perPath, errPct] = model!.slice(1).map(Number);
    const ingest = lines[1].match(/^ingest: ([\d,]+) paths\/s with 1 worker\(s\) on \d+ core\(s\)$/);
    expect(ingest, lines[1]).not.toBeNull();
    const rate = num(ingest![1]);
    const target = lines[2].match(/^4 peers x 100,000 prefixes = ([\d,]+) paths: about ([\d,]+) MB of RIB, plus the process itself \((\d+) MB here\) and what is queued for peers; ([\d.]+) s to take them all in at that rate$/);
    expect(target, lines[2]).not.toBeNull();
    const paths = num(target![1]);
    expect(paths).toBe(400_000);

    // The projection is the model at the size asked for (rounding: MB and bytes as printed).
    const ram = fixedMb + (perPrefix * 100_000 + perPath * paths) / 1e6;
    expect(Math.abs(num(target![2]) - ram)).toBeLessThanOrEqual(1.5);
    // The rate is the largest probe's, and the time is paths at that rate.
    const largest = probes[probes.length - 1];
    expect(Math.abs(rate - largest.paths / largest.seconds) / rate).toBeLessThan(0.01);
    expect(Math.abs(Number(target![4]) - paths / rate)).toBeLessThanOrEqual(0.051);
    // The model holds on the probes it was fitted to, within its stated error (and rounding).
    for (const p of probes) {
      const predicted = fixedMb + (perPrefix * p.prefixes + perPath * p.paths) / 1e6;
      expect(Math.abs(predicted - p.mb) / p.mb, `model at probe ${p.peers} x ${p.prefixes}`).toBeLessThanOrEqual(errPct / 100 + 0.04);
    }

    const sizing = lines[3].match(/^size the RIB for it: \[rib\] prefixes = (\d+), paths = (\d+), attribute-sets = (\d+)$/);
    expect(sizing, lines[3]).not.toBeNull();
    expect(Number(sizing![1])).toBe(120_000); // 20% headroom on prefixes
    expect(Number(sizing![2])).toBeGreaterThanOrEqual(440_000); // 10% on paths
    expect(Number(sizing![2])).toBeLessThanOrEqual(440_001);
    expect(Number(sizing![3])).toBe(Math.ceil(paths / 3));
  }, 60_000);

  it('refuses a table under 1000 prefixes, naming the flag', async () => {
    const r = await cli(['plan', '--table', '10']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ribstorm: --table: expected full or a prefix count of at least 1000, got "10"/);
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

  it('--churn latency: every new prefix and every withdrawal seen at the receiver, with p50, p99 and max', async () => {
    const json = path.join(dir, 'bench-latency.json');
    const r = await cli(['bench', '--targets', 'ribstorm', '--peers', '1', '--prefixes', '20000', '--churn', 'latency', '--rate', '500', '--json', json]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const res = JSON.parse(readFileSync(json, 'utf8'))[0].results[0];
    expect(res.latency.rate).toBe(500);
    for (const f of [res.latency.announce, res.latency.withdraw]) {
      expect(f).toMatchObject({ sent: 2500, seen: 2500 }); // 5 s at 500 a second, each way
      expect(f.p50Ms).toBeGreaterThan(0);
      expect(f.p50Ms).toBeLessThanOrEqual(f.p99Ms);
      expect(f.p99Ms).toBeLessThanOrEqual(f.maxMs);
    }
    expect(res.prefixesAtSink).toBe(20_000); // the new prefixes came and went
    const [row] = tableRows(r.stdout);
    expect(row['UPDATE in to change out: announce / withdraw']).toBe(
      `500 UPDATEs/s: p50 ${res.latency.announce.p50Ms} ms, p99 ${res.latency.announce.p99Ms} ms, max ${res.latency.announce.maxMs} ms / p50 ${res.latency.withdraw.p50Ms} ms, p99 ${res.latency.withdraw.p99Ms} ms, max ${res.latency.withdraw.maxMs} ms`,
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
