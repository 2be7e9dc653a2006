// `[rib] mode` and `ribstorm run --collector`: the default, the one other value, a bad value
// and what collector mode cannot do (BMP Loc-RIB monitoring), each refused with one line
// naming the field. `[rib] events-max-wait-ms` and `events-backlog-mb`: their defaults, their
// ranges, and the speaker's route events' lane taking them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { diffConfig } from '../../src/config/diff.js';
import { configFromFlags } from '../../src/config/flags.js';
import { DEFAULT_RIB, loadConfigFile } from '../../src/config/schema.js';
import { EVENT_BACKLOG_BYTES, EVENT_DEFER_MS } from '../../src/rib/eventBounds.js';
import { Speaker } from '../../src/speaker/speaker.js';

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

describe('[rib] events-max-wait-ms, events-backlog-mb', () => {
  it('default to the lane\'s own bounds, also from flags', () => {
    for (const rib of [loadConfigFile(file('ev-none.toml', BASE)).rib, configFromFlags({ as: '65001', 'router-id': '10.0.0.1' }).rib]) {
      expect(rib.eventsMaxWaitMs).toBe(EVENT_DEFER_MS);
      expect(rib.eventsBacklogMb * (1 << 20)).toBe(EVENT_BACKLOG_BYTES);
    }
  });

  it('are taken by the speaker\'s route events\' lane', async () => {
    const config = loadConfigFile(file('ev.toml', `${BASE}\n[rib]\nworkers = 1\nevents-max-wait-ms = 0\nevents-backlog-mb = 3\n`));
    expect(config.rib).toMatchObject({ eventsMaxWaitMs: 0, eventsBacklogMb: 3 });
    const speaker = new Speaker(config);
    try {
      expect(speaker.rib!.eventBounds).toEqual({ deferMs: 0, backlogBytes: 3 << 20 });
    } finally {
      await speaker.rib!.close();
    }
  });

  it('refuse a value out of range, naming the field', () => {
    const bad = (line: string) => errorOf(() => loadConfigFile(file('ev-bad.toml', `${BASE}\n[rib]\n${line}\n`)));
    expect(bad('events-max-wait-ms = -1')).toBe('rib.events-max-wait-ms: expected milliseconds from 0 (route events never wait for the RIB) to 60000, got -1');
    expect(bad('events-max-wait-ms = "5s"')).toMatch(/^rib\.events-max-wait-ms: expected milliseconds/);
    expect(bad('events-backlog-mb = 0')).toBe('rib.events-backlog-mb: expected MiB from 1 to 4096, got 0');
    expect(bad('events-backlog-mb = 5000')).toMatch(/^rib\.events-backlog-mb: expected MiB from 1 to 4096/);
  });

  it('cannot change on a reload', () => {
    const a = loadConfigFile(file('ev-a.toml', BASE));
    const b = loadConfigFile(file('ev-b.toml', `${BASE}\n[rib]\nevents-backlog-mb = 64\n`));
    expect(a.rib.eventsBacklogMb).toBe(DEFAULT_RIB.eventsBacklogMb);
    expect(errorOf(() => diffConfig(a, b))).toBe('rib.events-backlog-mb: cannot change while running (128 -> 64); restart ribstorm to apply it');
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
