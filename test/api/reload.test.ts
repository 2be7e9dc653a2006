// POST /config/reload on uWebSockets.js and on node:http alike: behind the token like every
// write; the report of what was done; a refused reload answered 400 (409 without a file) with
// the field named; neighbors added and removed showing in /neighbors at once; `ribstorm
// reload` printing the report aligned or as JSON.
import { writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../../src/api/server.js';
import { client } from '../../src/cli/client.js';
import { State } from '../../src/neighbor/fsm.js';
import { MessageType } from '../../src/packet/index.js';
import { Reloader } from '../../src/speaker/reload.js';
import { startFromFile } from '../helpers/configFile.js';
import { OPEN_POLICY, useCleanup } from '../helpers/lab.js';
import { captureLog, defaultCaps, RawPeer, until } from '../helpers/rawPeer.js';

const add = useCleanup();
beforeAll(() => {
  captureLog();
});

const HOST = '127.0.65.1';
const A = '127.0.65.2'; // AS 65502, stays
const B = '127.0.65.3'; // AS 65503, removed
const C = '127.0.65.4'; // AS 65504, added
const TOKEN = 'reload-token-0123';
const n = (address: string, asn: number, more: Record<string, unknown> = {}) => ({ address, 'remote-as': asn, passive: true, ...OPEN_POLICY, ...more });

async function lab(native: boolean, withFile = true) {
  const l = await startFromFile(add, HOST, [n(A, 65502), n(B, 65503)]);
  const reloader = new Reloader(l.speaker, withFile ? l.file : null);
  const api = new ApiServer(l.speaker, { native, token: TOKEN, reload: () => reloader.reload() });
  const port = await api.listen('127.0.0.1', 0);
  add(() => api.close());
  const post = async (auth: string | undefined = TOKEN) => {
    const r = await fetch(`http://127.0.0.1:${port}/config/reload`, { method: 'POST', headers: auth ? { authorization: `Bearer ${auth}` } : {} });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const peers = async () => ((await (await fetch(`http://127.0.0.1:${port}/neighbors`)).json()) as { peers: Record<string, { state: string }> }).peers;
  return { ...l, api, apiPort: port, post, peers };
}

for (const native of [true, false]) {
  describe(`POST /config/reload over ${native ? 'uWebSockets.js' : 'node:http'}`, () => {
    it('needs the token, applies the file and answers what it did', async () => {
      const l = await lab(native);
      const a = await RawPeer.connect(HOST, l.port, A);
      add(() => a.close());
      a.sendOpen(65502, 90, A, defaultCaps(65502));
      await a.waitFor(MessageType.OPEN);
      a.sendKeepalive();
      await until(() => l.speaker.neighbors.get(A)!.state === State.Established);

      l.write([n(A, 65502, { description: 'renamed' }), n(C, 65504)]);
      expect((await l.post('wrong-token-00000')).status).toBe(401);
      expect((await l.post('')).status).toBe(401);
      expect(Object.keys(await l.peers())).toEqual([A, B]); // nothing applied without the token

      const r = await l.post();
      expect(r).toEqual({ status: 200, body: { added: [C], removed: [B], reset: [], softReset: [], inPlace: [A], unchanged: [] } });
      expect(Object.keys(await l.peers())).toEqual([A, C]);
      const detail = (await (await fetch(`http://127.0.0.1:${l.apiPort}/neighbors/${C}`)).json()) as { transitions: Array<{ to: string }> };
      expect(detail.transitions.map((t) => t.to)).toEqual(['Active']); // passive: waiting for it
      expect((await fetch(`http://127.0.0.1:${l.apiPort}/neighbors/${B}`)).status).toBe(404);
      expect(l.speaker.neighbors.get(A)!.state).toBe(State.Established);
      expect(a.received.some((m) => m.type === MessageType.NOTIFICATION)).toBe(false);

      // A file that does not validate: 400 naming the field, nothing changes.
      writeFileSync(l.file, l.text([n(A, 65502), { ...n(C, 65504), 'remote-as': 'x' }]));
      const bad = await l.post();
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ field: 'neighbors[1].remote-as', added: [], removed: [] });
      expect(bad.body.error).toMatch(/^neighbors\[1\]\.remote-as: expected an AS number/);
      expect(Object.keys(await l.peers())).toEqual([A, C]);
      expect(l.speaker.neighbors.get(A)!.config.description).toBe('renamed');
    });

    it('409 when the speaker was started without a file', async () => {
      const l = await lab(native, false);
      const r = await l.post();
      expect(r.status).toBe(409);
      expect(r.body).toMatchObject({ field: 'config' });
      expect(r.body.error).toMatch(/no configuration file to read again/);
    });
  });
}

describe('ribstorm reload', () => {
  it('prints the report aligned, or as JSON with -j; a refusal is an error naming the field', async () => {
    const l = await lab(true);
    const api = ['--api', `127.0.0.1:${l.apiPort}`, '--token', TOKEN];
    l.write([n(A, 65502), n(C, 65504)]);
    const lines: string[] = [];
    expect(await client('reload', api, (x) => lines.push(x))).toBe(0);
    expect(lines).toEqual([
      'added             1  127.0.65.4',
      'removed           1  127.0.65.3',
      'reset             0',
      'soft reset        0',
      'changed in place  0',
      'unchanged         1  127.0.65.2',
    ]);
    const json: string[] = [];
    expect(await client('reload', [...api, '-j'], (x) => json.push(x))).toBe(0);
    expect(JSON.parse(json.join('\n'))).toEqual({ added: [], removed: [], reset: [], softReset: [], inPlace: [], unchanged: [A, C] });
    l.write([n(A, 65502)], { asn: 65001 });
    await expect(client('reload', api, () => {})).rejects.toThrow(/^global\.asn: cannot change while running \(65000 -> 65001\)/);
    await expect(client('reload', ['--api', `127.0.0.1:${l.apiPort}`], () => {})).rejects.toThrow(/^token: /);
  });
});
