// SIGHUP on a real `ribstorm run` child process: the --config file read again and applied
// (a neighbor added, the Established one left alone), a bad file refused with the field named
// while the speaker runs on, and a speaker started with flags only saying it has no file.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { configDir, configText } from '../helpers/configFile.js';
import { freePort } from '../helpers/env.js';
import { OPEN_POLICY, useCleanup } from '../helpers/lab.js';
import { defaultCaps, RawPeer, until } from '../helpers/rawPeer.js';
import { MessageType } from '../../src/packet/index.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(REPO, 'bin/ribstorm.js');
const HOST = '127.0.49.1';
const A = '127.0.49.2'; // AS 65492, Established before the reload
const B = '127.0.49.3'; // AS 65493, added by it
const add = useCleanup();
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function start(args: string[]): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, [BIN, 'run', ...args], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RIBSTORM_API_TOKEN: '' } });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (c) => (err += c));
  add(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
  });
  return { child, stderr: () => err };
}

const n = (address: string, asn: number, more: Record<string, unknown> = {}) => ({ address, 'remote-as': asn, passive: true, ...OPEN_POLICY, ...more });

describe('SIGHUP', () => {
  it('reloads the config file of a running `ribstorm run`', async () => {
    const port = await freePort(HOST);
    const apiPort = await freePort(HOST);
    const file = path.join(configDir(add), 'ribstorm.toml');
    const text = (ns: unknown[], global: Record<string, unknown> = {}) => configText(HOST, port, ns, global, { api: { listen: `${HOST}:${apiPort}` } });
    writeFileSync(file, text([n(A, 65492)]));
    const { child, stderr } = start(['--config', file]);
    await until(() => stderr().includes('management API on'), 20_000, 'the speaker up');
    const a = await RawPeer.connect(HOST, port, A);
    add(() => a.close());
    a.sendOpen(65492, 90, A, defaultCaps(65492));
    await a.waitFor(MessageType.OPEN);
    a.sendKeepalive();
    await until(() => stderr().includes(`neighbor ${A} AS65492: OpenConfirm -> Established`), 5000, 'A Established');

    writeFileSync(file, text([n(A, 65492), n(B, 65493)]));
    child.kill('SIGHUP');
    await until(() => stderr().includes('reload: 1 added, 0 removed, 0 reset, 0 soft reset, 0 changed in place, 1 unchanged'), 5000, 'the reload summary');
    expect(stderr()).toMatch(/SIGHUP: reloading the configuration/);
    expect(stderr()).toMatch(new RegExp(`reload: neighbor ${B.replace(/\./g, '\\.')} AS65493 added, waiting for it to connect`));
    const peers = ((await (await fetch(`http://${HOST}:${apiPort}/neighbors`)).json()) as { peers: Record<string, { state: string }> }).peers;
    expect(Object.keys(peers)).toEqual([A, B]);
    expect(peers[A].state).toBe('Established');
    // B can connect now.
    const b = await RawPeer.connect(HOST, port, B);
    add(() => b.close());
    b.sendOpen(65493, 90, B, defaultCaps(65493));
    await b.waitFor(MessageType.OPEN);

    // A bad file: refused, named, and the speaker runs on unchanged.
    writeFileSync(file, text([n(A, 65492), n(B, 65493, { 'add-path': 'sometimes' })]));
    child.kill('SIGHUP');
    await until(() => stderr().includes('reload refused: '), 5000, 'the refusal');
    expect(stderr()).toMatch(/reload refused: neighbors\[1\]\.add-path: expected one of off, receive, send, both, got "sometimes"; the running configuration stays/);
    expect(child.exitCode).toBeNull();
    expect(a.received.some((m) => m.type === MessageType.NOTIFICATION)).toBe(false);
    expect(a.closed).toBe(false);
  });

  it('says so when the speaker was started with flags, not a file', async () => {
    const port = await freePort(HOST);
    const { child, stderr } = start(['--as', '65000', '--router-id', '10.0.0.1', '--listen', `${HOST}:${port}`, '--api', 'off', '--workers', '1']);
    await until(() => stderr().includes('ribstorm AS65000'), 20_000, 'the speaker up');
    child.kill('SIGHUP');
    await until(() => stderr().includes('reload refused: '), 5000, 'the refusal');
    expect(stderr()).toMatch(/reload refused: config: no configuration file to read again \(ribstorm run was started with flags; start it with --config FILE to reload\)/);
    expect(child.exitCode).toBeNull();
  });
});
