// Table dumps as files: `[mrt]` in the config, RIS names (bview.YYYYMMDD.HHMM.gz, UTC), the
// periodic writer (a temporary name, then renamed; one log line per dump), and a file that
// cannot be written leaving nothing behind.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/schema.js';
import { bviewName, checkWritableDir, dumpToFile, PeriodicDumps } from '../../src/mrt/files.js';
import { attrs, announce, OPEN_POLICY, startLab, useCleanup } from '../helpers/lab.js';
import { captureLog, until } from '../helpers/rawPeer.js';

const add = useCleanup();
let logLines: string[] = [];
beforeAll(() => {
  logLines = captureLog();
});
const tmp = mkdtempSync(path.join(tmpdir(), 'ribstorm-mrt-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const haveBgpdump = existsSync('/usr/bin/bgpdump');

const HOST = '127.0.72.1';
const A = '127.0.72.2';

const base = { global: { asn: 65000, 'router-id': '10.0.0.1' } };

describe('[mrt] in the config', () => {
  it('dir and table-dump-interval (default 8 hours); anything else refused naming the field', () => {
    expect(validateConfig(base).mrt).toBeUndefined();
    expect(validateConfig({ ...base, mrt: { dir: '/tmp' } }).mrt).toMatchObject({ dir: '/tmp', tableDumpInterval: 28800 });
    expect(validateConfig({ ...base, mrt: { dir: '/tmp', 'table-dump-interval': 300 } }).mrt).toMatchObject({ dir: '/tmp', tableDumpInterval: 300 });
    expect(() => validateConfig({ ...base, mrt: {} })).toThrow(/^mrt\.dir: expected a string/);
    expect(() => validateConfig({ ...base, mrt: { dir: '/tmp', 'table-dump-interval': -1 } })).toThrow(/^mrt\.table-dump-interval: expected seconds/);
    expect(() => validateConfig({ ...base, mrt: { dir: '/tmp', rotate: 1 } })).toThrow(/mrt\.rotate/);
  });

  it('a directory that does not exist or is a file: an error naming the field and the path', () => {
    expect(() => checkWritableDir(path.join(tmp, 'nope'), 'mrt.dir')).toThrow(/^mrt\.dir: expected an existing directory, got ".*nope"$/);
    expect(() => checkWritableDir(__filename, 'mrt.dir')).toThrow(/^mrt\.dir: expected a directory/);
    expect(() => checkWritableDir(tmp, 'mrt.dir')).not.toThrow();
  });
});

describe('RIS file names', () => {
  it('bview.YYYYMMDD.HHMM in UTC, with the compression suffix', () => {
    expect(bviewName(new Date(Date.UTC(2024, 0, 2, 3, 4, 59)))).toBe('bview.20240102.0304.gz');
    expect(bviewName(new Date(Date.UTC(2025, 11, 31, 16, 0)), 'bzip2')).toBe('bview.20251231.1600.bz2');
    expect(bviewName(new Date(Date.UTC(2025, 11, 31, 16, 0)), 'none')).toBe('bview.20251231.1600');
  });
});

describe('periodic table dumps', () => {
  it('writes bview files every interval through a temporary name, one log line each, readable by bgpdump', async () => {
    const l = await startLab(add, HOST, [{ address: A, 'remote-as': 65201, ...OPEN_POLICY }]);
    const a = await l.peer(A, 65201);
    a.send(announce(attrs([65201, 3356]), ['10.72.1.0/24', '10.72.2.0/24']));
    await until(() => l.speaker.receivedPaths(l.speaker.neighbors.get(A)!) === 2);
    const dir = mkdtempSync(path.join(tmp, 'periodic-'));
    const dumps = new PeriodicDumps(l.speaker, { dir, tableDumpInterval: 1, updatesInterval: 0, compression: 'gzip' });
    dumps.start();
    add(() => dumps.stop());
    // Names have minutes: dumps a second apart share one, the later replacing the earlier.
    const logged = () => logLines.filter((x) => x.includes('MRT table dump') && x.includes(dir));
    await until(() => logged().length >= 2, 5000, 'two dumps');
    await dumps.stop();
    const files = readdirSync(dir).sort();
    expect(files.length).toBeGreaterThanOrEqual(1);
    expect(files.every((f) => /^bview\.\d{8}\.\d{4}\.gz$/.test(f)), files.join(' ')).toBe(true); // no temporary left
    const name = files.at(-1)!;
    for (const line of logged()) expect(line).toMatch(/MRT table dump .*\/bview\.\d{8}\.\d{4}\.gz: 2 prefixes, 2 paths, \d+ bytes in [\d.]+s$/);
    expect(logged().some((x) => x.includes(name))).toBe(true);
    if (haveBgpdump) {
      const out = execFileSync('/usr/bin/bgpdump', ['-m', path.join(dir, name)], { encoding: 'utf8' }).trim().split('\n');
      expect(out.map((x) => x.split('|').slice(3, 7).join('|')).sort()).toEqual(['127.0.72.2|65201|10.72.1.0/24|65201 3356', '127.0.72.2|65201|10.72.2.0/24|65201 3356']);
    }
  });

  it('a file that cannot be written: the error, nothing left behind', async () => {
    const l = await startLab(add, HOST, [{ address: A, 'remote-as': 65201, ...OPEN_POLICY }]);
    const dir = mkdtempSync(path.join(tmp, 'fail-'));
    await expect(dumpToFile(l.speaker, path.join(dir, 'missing', 'bview.gz'), 'gzip')).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
    // A name taken by a folder: the rename fails once the dump is complete; its temporary goes.
    execFileSync('mkdir', [path.join(dir, 'taken.gz'), path.join(dir, 'taken.gz', 'x')]);
    await expect(dumpToFile(l.speaker, path.join(dir, 'taken.gz'), 'gzip')).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['taken.gz']);
  });
});
