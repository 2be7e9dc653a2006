// `[rib] mode` and `ribstorm run --collector`: the default, the one other value, a bad value
// and what collector mode cannot do (BMP Loc-RIB monitoring), each refused with one line
// naming the field.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { diffConfig } from '../../src/config/diff.js';
import { configFromFlags } from '../../src/config/flags.js';
import { loadConfigFile } from '../../src/config/schema.js';

const dir = mkdtempSync(join(tmpdir(), 'ribstorm-ribmode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const BASE = `
[global]
asn = 65001
router-id = "10.0.0.1"
listen-addresses = ["127.0.100.1"]
`;

const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return '';
};

describe('[rib] mode', () => {
  it('is "speaker" unless set, also from flags', () => {
    expect(loadConfigFile(file('none.toml', BASE)).rib.mode).toBe('speaker');
    expect(loadConfigFile(file('rib.toml', `${BASE}\n[rib]\nworkers = 2\n`)).rib.mode).toBe('speaker');
    expect(configFromFlags({ as: '65001', 'router-id': '10.0.0.1' }).rib.mode).toBe('speaker');
  });

  it('takes "collector"', () => {
    expect(loadConfigFile(file('collector.toml', `${BASE}\n[rib]\nmode = "collector"\n`)).rib.mode).toBe('collector');
  });

  it('refuses any other value, naming rib.mode', () => {
    expect(errorOf(() => loadConfigFile(file('bad.toml', `${BASE}\n[rib]\nmode = "router"\n`)))).toBe('rib.mode: expected one of speaker, collector, got "router"');
    expect(errorOf(() => loadConfigFile(file('num.toml', `${BASE}\n[rib]\nmode = 1\n`)))).toBe('rib.mode: expected one of speaker, collector, got 1');
  });

  it('cannot change on a reload', () => {
    const speaker = loadConfigFile(file('reload-a.toml', BASE));
    const collector = loadConfigFile(file('reload-b.toml', `${BASE}\n[rib]\nmode = "collector"\n`));
    expect(errorOf(() => diffConfig(speaker, collector))).toBe('rib.mode: cannot change while running ("speaker" -> "collector"); restart ribstorm to apply it');
  });

  it('refuses BMP Loc-RIB monitoring in collector mode, naming the station, and takes pre-policy', () => {
    const station = (monitoring: string) => `\n[[bmp]]\nstation = "127.0.100.9:1790"\n\n[[bmp]]\nstation = "127.0.100.10:1790"\nmonitoring = ${monitoring}\n`;
    const collector = `${BASE}\n[rib]\nmode = "collector"\n`;
    expect(errorOf(() => loadConfigFile(file('locrib.toml', collector + station('"local-rib"'))))).toBe(
      'bmp[1].monitoring: expected "pre-policy" in collector mode (rib.mode = "collector" keeps no Loc-RIB to monitor), got ["local-rib"]',
    );
    expect(errorOf(() => loadConfigFile(file('all.toml', collector + station('"all"'))))).toMatch(/^bmp\[1\]\.monitoring: expected "pre-policy" in collector mode/);
    expect(loadConfigFile(file('pre.toml', collector + station('"pre-policy"'))).bmp).toHaveLength(2);
    // The same stations are fine for a speaker.
    expect(loadConfigFile(file('speaker.toml', BASE + station('"all"'))).rib.mode).toBe('speaker');
  });
});

describe('ribstorm run --collector', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['bin/ribstorm.js', ...args], { encoding: 'utf8', timeout: 20_000 });

  it('refuses a config file whose BMP station asks for the Loc-RIB, with one line and exit code 2', () => {
    const f = file('run-locrib.toml', `${BASE}\n[[bmp]]\nstation = "127.0.100.9:1790"\nmonitoring = "local-rib"\n`);
    const r = cli(['run', '--config', f, '--collector', '--api', 'off']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^ribstorm: bmp\[0\]\.monitoring: expected "pre-policy" in collector mode/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses a bad rib.mode in the file with one line and exit code 2', () => {
    const r = cli(['run', '--config', file('run-bad.toml', `${BASE}\n[rib]\nmode = "reflector"\n`), '--api', 'off']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('ribstorm: rib.mode: expected one of speaker, collector, got "reflector"');
  });
});
