// Update logs: every UPDATE received and every state change as BGP4MP_ET records in RIS-named
// `updates.YYYYMMDD.HHMM.gz` files, read back with ribstorm's own reader and with Debian's
// bgpdump; rotation, a disk that cannot keep up, a folder that goes away.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/schema.js';
import { readUpdates, type MrtUpdate } from '../../src/harness/tablegen/mrt.js';
import { messageSubtype, sessionBlock, updateIsIpv6 } from '../../src/mrt/bgp4mp.js';
import { Bgp4mpSubtype } from '../../src/mrt/constants.js';
import { UpdateLog } from '../../src/mrt/updateLog.js';
import { State } from '../../src/neighbor/fsm.js';
import { AttrFlag, AttrType, CapabilityCode, encodeUpdate, type Capability } from '../../src/packet/index.js';
import { reportSkipped } from '../helpers/env.js';
import { announce, attrs, OPEN_POLICY, startLab, useCleanup, withdraw } from '../helpers/lab.js';
import { captureLog, until } from '../helpers/rawPeer.js';

const add = useCleanup();
let logLines: string[] = [];
beforeAll(() => {
  logLines = captureLog();
});
const tmp = mkdtempSync(path.join(tmpdir(), 'ribstorm-mrt-updates-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const BGPDUMP = '/usr/bin/bgpdump';
const haveBgpdump = existsSync(BGPDUMP);
if (!haveBgpdump) reportSkipped('mrt', [`update log read-back by bgpdump: ${BGPDUMP} is not installed (apt install bgpdump)`]);

const HOST = '127.0.73.1';
const A = '127.0.73.2';
const B = '127.0.73.3';
const base = { global: { asn: 65000, 'router-id': '10.0.0.1' } };
/** A 2-octet-AS speaker: no Four-octet AS capability. */
const CAPS_AS2: Capability[] = [{ code: CapabilityCode.Multiprotocol, afi: 1, safi: 1 }];
const UPDATES_FILE = /^updates\.\d{8}\.\d{4}\.gz$/;

async function readAll(file: string): Promise<MrtUpdate[]> {
  const out: MrtUpdate[] = [];
  for await (const u of readUpdates(file)) out.push({ ...u, message: Buffer.from(u.message) });
  return out;
}

describe('[mrt] update logs in the config', () => {
  it('updates-interval (default 300 s, 0: none, at least a minute) and compression; anything else named', () => {
    expect(validateConfig({ ...base, mrt: { dir: '/tmp' } }).mrt).toEqual({ dir: '/tmp', tableDumpInterval: 28800, updatesInterval: 300, compression: 'gzip' });
    expect(validateConfig({ ...base, mrt: { dir: '/tmp', 'updates-interval': 0, 'table-dump-interval': 0, compression: 'bzip2' } }).mrt).toEqual({ dir: '/tmp', tableDumpInterval: 0, updatesInterval: 0, compression: 'bzip2' });
    expect(() => validateConfig({ ...base, mrt: { dir: '/tmp', 'updates-interval': 30 } })).toThrow(/^mrt\.updates-interval: expected seconds: 0 \(none\) or 60 to 86400, got 30$/);
    expect(() => validateConfig({ ...base, mrt: { dir: '/tmp', compression: 'xz' } })).toThrow(/^mrt\.compression: /);
  });
});

describe('BGP4MP records', () => {
  it('the session block: 4- or 2-octet ASes (AS_TRANS when it does not fit), AFI, both addresses', () => {
    const b4 = sessionBlock({ peerAs: 4200000001, localAs: 65000, peerAddress: '192.0.2.1', localAddress: '192.0.2.2' }, 4);
    expect([...b4]).toEqual([0xfa, 0x56, 0xea, 0x01, 0, 0, 0xfd, 0xe8, 0, 0, 0, 1, 192, 0, 2, 1, 192, 0, 2, 2]);
    const b2 = sessionBlock({ peerAs: 4200000001, localAs: 65000, peerAddress: '2001:db8::1' }, 2);
    expect(b2.length).toBe(2 + 2 + 2 + 2 + 16 + 16);
    expect(b2.readUInt16BE(0)).toBe(23456);
    expect(b2.readUInt16BE(6)).toBe(2);
    expect(b2.subarray(24).every((x) => x === 0)).toBe(true); // local address unknown: ::
  });

  it('the message subtype; an UPDATE told IPv6 by its MP_REACH/MP_UNREACH only', () => {
    expect(messageSubtype(true, false)).toBe(Bgp4mpSubtype.MESSAGE_AS4);
    expect(messageSubtype(false, false)).toBe(Bgp4mpSubtype.MESSAGE);
    expect(messageSubtype(true, true)).toBe(Bgp4mpSubtype.MESSAGE_AS4_ADDPATH);
    expect(updateIsIpv6(announce(attrs([65001]), ['10.0.0.0/8']))).toBe(false);
    expect(updateIsIpv6(withdraw(['10.0.0.0/8']))).toBe(false);
    const v6 = encodeUpdate(
      { withdrawn: [], nlri: [], attributes: [...attrs([65001]).slice(0, 2), { type: AttrType.MP_REACH_NLRI, flags: AttrFlag.Optional, afi: 2, safi: 1, nextHops: ['2001:db8::9'], nlri: [{ prefix: '2001:db8:1::/48' }] }] },
      { asn4: true },
    );
    expect(updateIsIpv6(v6)).toBe(true);
  });
});

describe('update logs as files', () => {
  it('every UPDATE as received and every state change, read back by ribstorm and by bgpdump', async () => {
    const l = await startLab(add, HOST, [
      { address: A, 'remote-as': 65201, ...OPEN_POLICY },
      { address: B, 'remote-as': 65202, ...OPEN_POLICY },
    ]);
    const dir = mkdtempSync(path.join(tmp, 'log-'));
    const log = new UpdateLog(l.speaker, { dir, interval: 300, compression: 'gzip' });
    log.start();
    add(() => log.stop());
    const a = await l.peer(A, 65201);
    const b = await l.peer(B, 65202, { caps: CAPS_AS2 });
    const sentA = [announce(attrs([65201, 3356]), ['10.73.1.0/24', '10.73.2.0/24']), withdraw(['10.73.1.0/24'])];
    const sentB = [announce(attrs([65202, 174]), ['10.73.9.0/24'], { asn4: false })];
    sentA.forEach((m) => a.send(m));
    sentB.forEach((m) => b.send(m));
    await until(() => l.speaker.receivedPaths(l.speaker.neighbors.get(A)!) === 1 && l.speaker.receivedPaths(l.speaker.neighbors.get(B)!) === 1);
    a.close();
    await until(() => l.state(A) !== State.Established);
    await log.stop();

    const files = readdirSync(dir);
    expect(files.length).toBe(1);
    expect(files[0]).toMatch(UPDATES_FILE); // no temporary left
    const file = path.join(dir, files[0]);
    const got = await readAll(file);
    const fromA = got.filter((u) => u.peerAddress === A);
    const fromB = got.filter((u) => u.peerAddress === B);
    expect(fromA.map((u) => u.message.toString('hex'))).toEqual(sentA.map((m) => Buffer.from(m).toString('hex')));
    expect(fromB.map((u) => u.message.toString('hex'))).toEqual(sentB.map((m) => Buffer.from(m).toString('hex')));
    expect(fromA.every((u) => u.asn4 && u.peerAs === 65201)).toBe(true);
    expect(fromB.every((u) => !u.asn4 && u.peerAs === 65202)).toBe(true); // BGP4MP_MESSAGE: 2-octet AS_PATH
    expect(log.stats.dropped).toBe(0);

    if (!haveBgpdump) {
      if (process.env.RIBSTORM_REQUIRE_INTEROP === '1') expect.fail(`${BGPDUMP} is not installed`);
      return;
    }
    const lines = execFileSync(BGPDUMP, ['-m', file], { encoding: 'utf8' }).trim().split('\n').map((x) => x.split('|'));
    expect(lines.every((f) => f[0].startsWith('BGP4MP'))).toBe(true);
    const routes = lines.filter((f) => f[2] === 'A' || f[2] === 'W').map((f) => f.slice(2, 6 + (f[2] === 'A' ? 1 : 0)).join('|'));
    // In the order each peer sent them (the two peers' messages interleave as they arrive).
    expect(routes.filter((r) => r.includes(A))).toEqual(['A|127.0.73.2|65201|10.73.1.0/24|65201 3356', 'A|127.0.73.2|65201|10.73.2.0/24|65201 3356', 'W|127.0.73.2|65201|10.73.1.0/24']);
    expect(routes.filter((r) => r.includes(B))).toEqual(['A|127.0.73.3|65202|10.73.9.0/24|65202 174']);
    const states = (peer: string) => lines.filter((f) => f[2] === 'STATE' && f[3] === peer).map((f) => `${f[5]}>${f[6]}`);
    // RFC 6396 numbering: 5 OpenConfirm, 6 Established, 1 Idle.
    expect(states(A)).toContain('5>6');
    expect(states(A).at(-1)).toBe('6>1');
    expect(states(B)).toContain('5>6');
    // Timestamps in order.
    const times = lines.map((f) => Number(f[1]));
    expect(times.every((t, i) => i === 0 || t >= times[i - 1])).toBe(true);
  });

  it('rotates into the next interval’s file; bzip2 as RouteViews', async () => {
    const l = await startLab(add, HOST, [{ address: A, 'remote-as': 65201, ...OPEN_POLICY }]);
    const dir = mkdtempSync(path.join(tmp, 'rotate-'));
    const log = new UpdateLog(l.speaker, { dir, interval: 300, compression: 'bzip2' });
    log.start();
    add(() => log.stop());
    const a = await l.peer(A, 65201);
    a.send(announce(attrs([65201]), ['10.73.3.0/24']));
    const held = (n: number) => () => l.speaker.receivedPaths(l.speaker.neighbors.get(A)!) === n;
    await until(held(1));
    log.rotate(new Date(Date.now() + 300_000));
    a.send(announce(attrs([65201]), ['10.73.4.0/24']));
    await until(held(2));
    await log.stop();
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    expect(files.every((f) => /^updates\.\d{8}\.\d{4}\.bz2$/.test(f))).toBe(true);
    const first = await readAll(path.join(dir, files[0]));
    const second = await readAll(path.join(dir, files[1]));
    expect(first.map((u) => u.message.toString('hex'))).toEqual([Buffer.from(announce(attrs([65201]), ['10.73.3.0/24'])).toString('hex')]);
    expect(second.map((u) => u.message.toString('hex'))).toEqual([Buffer.from(announce(attrs([65201]), ['10.73.4.0/24'])).toString('hex')]);
  });

  it('a disk that cannot keep up: records dropped, counted and logged; the session does not notice', async () => {
    const l = await startLab(add, HOST, [{ address: A, 'remote-as': 65201, ...OPEN_POLICY }]);
    const dir = mkdtempSync(path.join(tmp, 'slow-'));
    const log = new UpdateLog(l.speaker, { dir, interval: 300, compression: 'gzip', backlogBytes: 1 });
    log.start();
    add(() => log.stop());
    const a = await l.peer(A, 65201);
    a.send(announce(attrs([65201]), ['10.73.5.0/24']));
    await until(() => l.speaker.receivedPaths(l.speaker.neighbors.get(A)!) === 1);
    expect(log.stats.dropped).toBeGreaterThan(0);
    expect(l.state(A)).toBe(State.Established);
    expect(logLines.some((x) => x.includes(`MRT update log ${dir}`) && x.includes('records dropped'))).toBe(true);
    await log.stop();
    expect(readdirSync(dir).every((f) => UPDATES_FILE.test(f))).toBe(true);
  });

  it('a folder that goes away: the file is logged as lost, nothing else changes', async () => {
    const l = await startLab(add, HOST, [{ address: A, 'remote-as': 65201, ...OPEN_POLICY }]);
    const dir = mkdtempSync(path.join(tmp, 'gone-'));
    const log = new UpdateLog(l.speaker, { dir, interval: 300, compression: 'gzip' });
    log.start();
    add(() => log.stop());
    const a = await l.peer(A, 65201);
    rmSync(dir, { recursive: true, force: true });
    a.send(announce(attrs([65201]), ['10.73.6.0/24']));
    await until(() => l.speaker.receivedPaths(l.speaker.neighbors.get(A)!) === 1);
    await log.stop();
    expect(log.stats.failures).toBe(1);
    expect(logLines.some((x) => x.includes(`MRT update log ${dir}`) && x.includes('failed, not kept'))).toBe(true);
    expect(l.state(A)).toBe(State.Established);
  });
});
