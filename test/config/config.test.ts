import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromFlags, parsePeerSpec } from '../../src/config/flags.js';
import { ConfigError, loadConfigFile } from '../../src/config/schema.js';

const dir = mkdtempSync(join(tmpdir(), 'ribstorm-config-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const GOOD = `
[global]
asn = 65001
router-id = "10.0.0.1"
listen-addresses = ["127.0.0.2", "::1"]
listen-port = 1179

[[neighbors]]
address = "127.0.0.3"
remote-as = 65002
description = "bird lab"
hold-time = 9
keepalive = 3
connect-retry = 5
families = ["ipv4-unicast"]
passive = true
[neighbors.max-prefix]
limit = 1200000
action = "restart"
restart-after = 300

[[neighbors]]
address = "::2"
remote-as = 4200000002
local-address = "::1"
port = 1790
add-path = "receive"
role = "customer"
[neighbors.graceful-restart]
restart-time = 60
`;

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config file', () => {
  it('reads every field, with defaults for the rest', () => {
    const c = loadConfigFile(file('good.toml', GOOD));
    expect(c.global).toEqual({ asn: 65001, routerId: '10.0.0.1', listen: [{ address: '127.0.0.2', port: 1179 }, { address: '::1', port: 1179 }] });
    expect(c.neighbors[0]).toMatchObject({
      address: '127.0.0.3', remoteAs: 65002, description: 'bird lab', holdTime: 9, keepalive: 3, connectRetry: 5,
      families: ['ipv4-unicast'], passive: true, port: 179, maxPrefix: { limit: 1200000, action: 'restart', restartAfter: 300, warnPct: 90 },
    });
    expect(c.neighbors[1]).toMatchObject({
      address: '::2', remoteAs: 4200000002, localAddress: '::1', port: 1790, holdTime: 90, families: ['ipv4-unicast', 'ipv6-unicast'],
      addPath: 'receive', role: 'customer', gracefulRestart: { enabled: true, restartTime: 60 }, passive: false,
    });
  });

  it('names the field and what it expected', () => {
    expect(errorOf(() => loadConfigFile(file('a.toml', GOOD.replace('hold-time = 9', 'hold-time = 2')))))
      .toBe('neighbors[0].hold-time: expected 0 or an integer from 3 to 65535 seconds, got 2');
    expect(errorOf(() => loadConfigFile(file('b.toml', GOOD.replace('keepalive = 3', 'keepalive = 4')))))
      .toBe('neighbors[0].keepalive: expected at most a third of hold-time (3), got 4');
    expect(errorOf(() => loadConfigFile(file('c.toml', GOOD.replace('action = "restart"', 'action = "explode"')))))
      .toBe('neighbors[0].max-prefix.action: expected one of warn, block, restart, disable, got "explode"');
    expect(errorOf(() => loadConfigFile(file('d.toml', GOOD.replace('router-id = "10.0.0.1"', 'router-id = "10.0.0"')))))
      .toMatch(/^global\.router-id: expected a non-zero dotted-quad/);
    expect(errorOf(() => loadConfigFile(file('e.toml', GOOD.replace('address = "::2"', 'address = "127.0.0.3"')))))
      .toBe('neighbors[1].address: expected an address not used by another neighbor, got "127.0.0.3"');
    expect(errorOf(() => loadConfigFile(file('f.toml', GOOD.replace('families = ["ipv4-unicast"]', 'families = ["ipv4-flowspec"]')))))
      .toMatch(/^neighbors\[0\]\.families: expected a non-empty list of ipv4-unicast, ipv6-unicast/);
  });

  it('reads import and export policies and names the rule field that is wrong', () => {
    const withPolicy = GOOD.replace('passive = true', `passive = true
[neighbors.import]
default = "reject"
[[neighbors.import.rules]]
prefixes = ["10.0.0.0/8-24", "2001:db8::/32"]
communities = ["65000:100", "no-export"]
set-local-pref = 200
[neighbors.export]
default = "accept"
[[neighbors.export.rules]]
origin-as = [65010]
prepend = 2`);
    const c = loadConfigFile(file('p.toml', withPolicy));
    expect(c.neighbors[0].importPolicy).toMatchObject({ default: 'reject', rules: [{ action: 'accept', communities: [65000 * 65536 + 100, 0xffffff01], setLocalPref: 200 }] });
    expect(c.neighbors[0].importPolicy!.rules[0].prefixes).toEqual([{ afi: 1, bits: [0x0a000000], length: 8, le: 24 }, { afi: 2, bits: [0x20010db8, 0, 0, 0], length: 32, le: 32 }]);
    expect(c.neighbors[0].exportPolicy).toEqual({ default: 'accept', rules: [{ action: 'accept', originAs: [65010], prepend: 2 }] });
    expect(errorOf(() => loadConfigFile(file('q.toml', withPolicy.replace('"65000:100"', '"65000:100000"')))))
      .toMatch(/^neighbors\[0\]\.import\.rules\[0\]\.communities: expected a list of communities/);
    expect(errorOf(() => loadConfigFile(file('r.toml', withPolicy.replace('set-local-pref = 200', 'prepend = 1')))))
      .toBe('neighbors[0].import.rules[0].prepend: expected an export rule (prepend adds our own AS)');
    expect(errorOf(() => loadConfigFile(file('s.toml', withPolicy.replace('passive = true', 'passive = true\nimport-policy = "accept"')))))
      .toBe('neighbors[0].import-policy: expected either import-policy or a [import] table, not both');
  });

  it('refuses unknown keys instead of ignoring them', () => {
    expect(errorOf(() => loadConfigFile(file('g.toml', GOOD.replace('passive = true', 'pasive = true'))))).toBe('neighbors[0].pasive: unknown');
    expect(errorOf(() => loadConfigFile(file('h.toml', GOOD.replace('[global]', '[global]\nfoo = 1'))))).toBe('global.foo: unknown');
  });

  it('reports a TOML syntax error with the file name', () => {
    expect(errorOf(() => loadConfigFile(file('i.toml', '[global\nasn = 1')))).toMatch(/i\.toml: expected valid TOML/);
  });
});

describe('flags', () => {
  it('builds the same config from the one-line form', () => {
    const c = configFromFlags({
      as: '65001', 'router-id': '10.0.0.1', listen: ['127.0.0.2:179'],
      peer: ['127.0.0.3:65002', '[::2]:65003,passive,hold-time=9,families=ipv6-unicast,description=lab', '127.0.0.4:65004,max-prefix.limit=10'],
    });
    expect(c.global.listen).toEqual([{ address: '127.0.0.2', port: 179 }]);
    expect(c.neighbors.map((n) => [n.address, n.remoteAs, n.passive, n.holdTime, n.families.join('+')])).toEqual([
      ['127.0.0.3', 65002, false, 90, 'ipv4-unicast+ipv6-unicast'],
      ['::2', 65003, true, 9, 'ipv6-unicast'],
      ['127.0.0.4', 65004, false, 90, 'ipv4-unicast+ipv6-unicast'],
    ]);
    expect(c.neighbors[1].description).toBe('lab');
    expect(c.neighbors[2].maxPrefix?.limit).toBe(10);
    expect(parsePeerSpec('127.0.0.3:65002,port=1790', 'x')).toEqual({ address: '127.0.0.3', 'remote-as': 65002, port: 1790 });
  });

  it('names the flag in errors', () => {
    expect(errorOf(() => configFromFlags({ 'router-id': '10.0.0.1' }))).toMatch(/^--as: expected/);
    expect(errorOf(() => configFromFlags({ as: '65001', 'router-id': '10.0.0.1', peer: ['127.0.0.3'] }))).toMatch(/^--peer\[0\]: expected ADDRESS:REMOTE_AS/);
    expect(errorOf(() => configFromFlags({ as: '65001', 'router-id': '10.0.0.1', peer: ['127.0.0.3:65002,hold-time=1'] })))
      .toBe('--peer[0].hold-time: expected 0 or an integer from 3 to 65535 seconds, got 1');
    expect(errorOf(() => configFromFlags({ as: '65001', 'router-id': '10.0.0.1', listen: ['127.0.0.2:99999'] }))).toMatch(/^--listen\[0\]: expected a port/);
  });
});

describe('ribstorm run exits 2 with one line naming the field', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['bin/ribstorm.js', ...args], { encoding: 'utf8' });
  it.each([
    [['run', '--as', '65001', '--router-id', '10.0.0.1', '--peer', '127.0.0.3:65002,hold-time=2'], /^ribstorm: --peer\[0\]\.hold-time: /],
    [['run', '--config', '/nonexistent.toml'], /^ribstorm: config: expected a readable file/],
    [['run', '--as', '65001', '--bogus'], /^ribstorm: --bogus: unknown/],
    [['frobnicate'], /^ribstorm: command "frobnicate": unknown/],
  ])('%j', (args, pattern) => {
    const r = cli(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
