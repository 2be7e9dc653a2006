// The management plane over HTTP, on uWebSockets.js and on node:http alike: neighbors in FRR's
// shape, route lookups with every path and why each loser lost, the table streamed as NDJSON,
// the RIB summary, Prometheus metrics, and one-line 4xx answers for bad requests.
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../../src/api/server.js';
import { client } from '../../src/cli/client.js';
import { captureLog, sleep, until } from '../helpers/rawPeer.js';
import { announce, attrs, communities, LOCAL_AS, med, OPEN_POLICY, startLab, useCleanup, withdraw } from '../helpers/lab.js';

const add = useCleanup();
beforeAll(() => {
  captureLog();
});

const HOST = '127.0.61.1';
const A = '127.0.61.2'; // AS 65102
const B = '127.0.61.3'; // AS 65103
const SILENT = '127.0.61.4'; // configured, never connects

/** until() for a condition that has to ask the API. */
async function eventually(cond: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function lab(native: boolean) {
  const l = await startLab(add, HOST, [
    { address: A, 'remote-as': 65102, description: 'upstream A', ...OPEN_POLICY },
    { address: B, 'remote-as': 65103, ...OPEN_POLICY },
    { address: SILENT, 'remote-as': 65104, ...OPEN_POLICY },
  ]);
  const api = new ApiServer(l.speaker, { native });
  const port = await api.listen('127.0.0.1', 0);
  add(() => api.close());
  const base = `http://127.0.0.1:${port}`;
  const get = async (path: string) => {
    const r = await fetch(base + path);
    const text = await r.text();
    return { status: r.status, type: r.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) };
  };
  return { l, api, port, base, get };
}

for (const native of [true, false]) {
  describe(`management API over ${native ? 'uWebSockets.js' : 'node:http'}`, () => {
    it('serves on the transport asked for', async () => {
      const { api } = await lab(native);
      expect(api.serverName).toBe(native ? 'uWebSockets.js' : 'node:http');
    });

    it('GET /neighbors: FRR summary fields, per-family prefix counts, states', async () => {
      const { l, get } = await lab(native);
      const a = await l.peer(A, 65102);
      a.send(announce(attrs([65102, 3356]), ['10.61.1.0/24', '10.61.2.0/24', '10.61.3.0/24']));
      await until(() => l.speaker.receivedPaths(l.speaker.neighbors.get(A)!) === 3);
      const r = await get('/neighbors');
      expect(r.status).toBe(200);
      const s = r.json();
      expect(s).toMatchObject({ routerId: '10.0.0.1', as: LOCAL_AS, peerCount: 3, ribCount: 3 });
      expect(s.ribMemory).toBeGreaterThan(0);
      const pa = s.peers[A];
      expect(pa).toMatchObject({ remoteAs: 65102, localAs: LOCAL_AS, state: 'Established', adminState: 'up', peerState: 'OK', description: 'upstream A', pfxRcd: 3, pfxAccepted: 3, connectionsEstablished: 1, connectionsDropped: 0 });
      expect(pa.ipv4Unicast).toMatchObject({ pfxRcd: 3, pfxAccepted: 3, pfxFiltered: 0 });
      expect(pa.ipv6Unicast.pfxRcd).toBe(0);
      expect(pa.msgRcvd).toBeGreaterThanOrEqual(3); // OPEN, KEEPALIVE, UPDATE
      expect(pa.msgSent).toBeGreaterThanOrEqual(2);
      expect(pa.holdTime).toBeGreaterThan(0);
      expect(pa.capabilities.remote).toContain('asn4');
      expect(pa.rfc7606.ipv4Unicast.treatAsWithdraw).toBe(0);
      expect(s.peers[SILENT].state).not.toBe('Established');
      expect(s.peers[SILENT].pfxRcd).toBe(0);
      // B comes up and is sent A's three routes.
      await l.peer(B, 65103);
      await eventually(async () => (await get('/neighbors')).json().peers[B].pfxSnt === 3);
      expect((await get('/neighbors')).json().peers[B].ipv4Unicast.pfxSnt).toBe(3);
      expect((await get('/neighbors')).json().peers[A].pfxSnt).toBe(0);
    });

    it('GET /neighbors/{address}: detail with transitions and messages by type; 404 for a stranger', async () => {
      const { l, get } = await lab(native);
      await l.peer(A, 65102);
      const d = (await get(`/neighbors/${A}`)).json();
      expect(d.address).toBe(A);
      expect(d.state).toBe('Established');
      expect(d.transitions.at(-1)).toMatchObject({ to: 'Established' });
      expect(d.transitions.map((t: { to: string }) => t.to)).toContain('OpenConfirm');
      expect(d.messages.received.open).toBe(1);
      expect(d.messages.sent.open).toBe(1);
      expect(d.remoteRouterId).toBeTruthy();
      const r = await get('/neighbors/192.0.2.99');
      expect(r.status).toBe(404);
      expect(r.json()).toMatchObject({ field: 'address' });
    });

    it('GET /rib: every path of a prefix, the best flagged, each loser with the step that beat it', async () => {
      const { l, get } = await lab(native);
      const a = await l.peer(A, 65102);
      const b = await l.peer(B, 65103);
      a.send(announce(attrs([65102, 3356, 1299], [med(5), communities((65102 << 16) | 7, 0xffffff01)]), ['10.61.8.0/24']));
      b.send(announce(attrs([65103, 1299], [], '198.18.0.3'), ['10.61.8.0/24', '10.61.8.128/25']));
      await until(() => l.speaker.receivedPaths(l.speaker.neighbors.get(A)!) === 1 && l.speaker.receivedPaths(l.speaker.neighbors.get(B)!) === 2);
      const r = (await get('/rib?prefix=10.61.8.0/24')).json();
      expect(r.routes).toHaveLength(1);
      const paths = r.routes[0].paths;
      expect(paths).toHaveLength(2);
      const best = paths.find((p: { best: boolean }) => p.best);
      const loser = paths.find((p: { best: boolean }) => !p.best);
      expect(best).toMatchObject({ prefix: '10.61.8.0/24', fromPeer: B, peerAs: 65103, nextHop: '198.18.0.3', path: '65103 1299', origin: 'IGP' });
      expect(best.asPath).toEqual([{ type: 'AS_SEQUENCE', list: [65103, 1299] }]);
      expect(loser).toMatchObject({ fromPeer: A, med: 5, reason: 'longer AS_PATH', communities: ['65102:7', 'no-export'] });
      // longest match for an address, more specifics of a covering prefix
      const lm = (await get('/rib?prefix=10.61.8.200&match=longest')).json();
      expect(lm.routes.map((x: { prefix: string }) => x.prefix)).toEqual(['10.61.8.128/25']);
      const more = (await get('/rib?prefix=10.61.0.0/16&match=longer')).json();
      expect(more.routes.map((x: { prefix: string }) => x.prefix)).toEqual(['10.61.8.0/24', '10.61.8.128/25']);
      const onlyA = (await get(`/rib?prefix=10.61.0.0/16&match=longer&peer=${A}`)).json();
      expect(onlyA.routes.flatMap((x: { paths: { fromPeer: string }[] }) => x.paths.map((p) => p.fromPeer))).toEqual([A]);
      expect((await get('/rib?prefix=10.99.0.0/16')).json().routes).toEqual([]);
    });

    it('GET /rib without a prefix streams the whole table as NDJSON; /rib/summary counts it', async () => {
      const { l, get } = await lab(native);
      const a = await l.peer(A, 65102);
      const b = await l.peer(B, 65103);
      const prefixes = Array.from({ length: 3000 }, (_, i) => `10.${62 + (i >> 8)}.${i & 255}.0/24`);
      for (let i = 0; i < prefixes.length; i += 500) a.send(announce(attrs([65102, i]), prefixes.slice(i, i + 500)));
      b.send(announce(attrs([65103]), prefixes.slice(0, 10)));
      await until(() => l.speaker.receivedPaths(l.speaker.neighbors.get(A)!) === 3000 && l.speaker.receivedPaths(l.speaker.neighbors.get(B)!) === 10);
      const r = await get('/rib');
      expect(r.status).toBe(200);
      expect(r.type).toContain('ndjson');
      const rows = r.text.trim().split('\n').map((x) => JSON.parse(x));
      expect(rows).toHaveLength(3010);
      expect(new Set(rows.map((x) => x.prefix)).size).toBe(3000);
      expect(rows.filter((x) => x.best)).toHaveLength(3000);
      const fromB = (await get(`/rib?peer=${B}&family=ipv4`)).text.trim().split('\n');
      expect(fromB).toHaveLength(10);
      expect((await get('/rib?family=ipv6')).text).toBe('');
      const s = (await get('/rib/summary')).json();
      expect(s.ipv4Unicast).toMatchObject({ prefixes: 3000, bestPaths: 3000, paths: 3010 });
      expect(s.ipv6Unicast).toMatchObject({ prefixes: 0, paths: 0 });
      expect(s.attributeSets).toBeGreaterThanOrEqual(7);
      expect(s.ribMemory).toBeGreaterThan(0);
      // The counters /neighbors reads (no scan) follow withdrawals and a peer going down (B's ten were among the hundred).
      a.send(withdraw(prefixes.slice(0, 100)));
      await until(() => l.speaker.receivedPaths(l.speaker.neighbors.get(A)!) === 2900);
      b.close();
      await until(() => l.speaker.receivedPaths(l.speaker.neighbors.get(B)!) === 0);
      const after = (await get('/rib/summary')).json();
      expect(after.ipv4Unicast).toMatchObject({ prefixes: 2900, bestPaths: 2900, paths: 2900 });
      expect(after.paths).toBe(2900);
      expect((await get('/neighbors')).json().ribCount).toBe(2900);
    });

    it('GET /metrics: Prometheus text whose series grow with peers, not prefixes', async () => {
      const { l, get } = await lab(native);
      const a = await l.peer(A, 65102);
      a.send(announce(attrs([65102]), ['10.61.20.0/24', '10.61.21.0/24']));
      await until(() => l.speaker.receivedPaths(l.speaker.neighbors.get(A)!) === 2);
      const m1 = (await get('/metrics')).text;
      expect(m1).toMatch(new RegExp(`bgp_peer_state\\{peer="${A.replace(/\./g, '\\.')}",peer_as="65102"\\} 6`));
      expect(m1).toMatch(new RegExp(`bgp_routes_received\\{peer="${A.replace(/\./g, '\\.')}",peer_as="65102",family="ipv4"\\} 2`));
      expect(m1).toMatch(/bgp_rib_prefixes\{family="ipv4"\} 2/);
      expect(m1).toMatch(/bgp_received_messages_total\{[^}]*type="update"\} 1/);
      expect(m1).toMatch(/bgp_update_processing_seconds_count \d+/);
      expect(m1).toMatch(/nodejs_eventloop_lag_seconds/);
      const series = (t: string) => t.split('\n').filter((x) => x.startsWith('bgp_')).length;
      a.send(announce(attrs([65102, 1]), Array.from({ length: 500 }, (_, i) => `10.63.${i >> 8}.${i & 255}/32`)));
      await until(() => l.speaker.receivedPaths(l.speaker.neighbors.get(A)!) === 502);
      const m2 = (await get('/metrics')).text;
      expect(m2).toMatch(/bgp_rib_prefixes\{family="ipv4"\} 502/);
      expect(series(m2)).toBe(series(m1));
    });

    it('answers a bad request with a 4xx naming the field', async () => {
      const { get, base } = await lab(native);
      const cases: Array<[string, number, string]> = [
        ['/rib?prefix=10.0.0.0/33', 400, 'prefix'],
        ['/rib?prefix=not-a-prefix', 400, 'prefix'],
        ['/rib?prefix=10.0.0.0/8&match=sideways', 400, 'match'],
        ['/rib?prefix=10.0.0.0/8&colour=blue', 400, 'colour'],
        ['/rib?family=ipx', 400, 'family'],
        ['/rib?peer=192.0.2.77', 404, 'peer'],
        ['/rib?format=xml', 400, 'format'],
        ['/neighbors?verbose=1', 400, 'verbose'],
        ['/nowhere', 404, 'path'],
      ];
      for (const [path, status, field] of cases) {
        const r = await get(path);
        expect([path, r.status]).toEqual([path, status]);
        const body = r.json();
        expect(body.field).toBe(field);
        expect(body.error).toMatch(new RegExp(`^${field}: `));
        expect(body.error).not.toContain('\n');
      }
      const post = await fetch(`${base}/neighbors`, { method: 'POST', body: '{}' });
      expect(post.status).toBe(405);
    });

    it('the CLI prints the neighbors table and a route lookup from the API', async () => {
      const { l, port } = await lab(native);
      const a = await l.peer(A, 65102);
      a.send(announce(attrs([65102, 174]), ['10.61.30.0/24']));
      await until(() => l.speaker.receivedPaths(l.speaker.neighbors.get(A)!) === 1);
      const lines: string[] = [];
      expect(await client('neighbors', ['--api', `127.0.0.1:${port}`], (x) => lines.push(x))).toBe(0);
      expect(lines[0]).toBe(`BGP router identifier 10.0.0.1, local AS number ${LOCAL_AS}`);
      const header = lines.find((x) => x.startsWith('Neighbor'))!;
      expect(header).toMatch(/^Neighbor\s+AS\s+MsgRcvd\s+MsgSent\s+OutQ\s+Up\/Down\s+State\/PfxRcd\s+PfxSnt\s+Desc$/);
      const rowA = lines.find((x) => x.startsWith(A))!;
      expect(rowA.split(/\s+/)).toEqual(expect.arrayContaining([A, '65102', '1', 'upstream']));
      expect(lines.find((x) => x.startsWith(SILENT))).toMatch(/Active|Idle|Connect/);
      const rib: string[] = [];
      expect(await client('rib', ['10.61.30.7', '--api', `127.0.0.1:${port}`], (x) => rib.push(x))).toBe(0);
      expect(rib[1]).toMatch(/^ \*>\s+10\.61\.30\.0\/24\s+198\.18\.0\.9\s+65102 174 i\s+127\.0\.61\.2$/);
      const js: string[] = [];
      await client('neighbor', [A, '-j', '--api', `127.0.0.1:${port}`], (x) => js.push(x));
      expect(JSON.parse(js.join('\n')).pfxRcd).toBe(1);
      await expect(client('neighbor', ['192.0.2.99', '--api', `127.0.0.1:${port}`], () => {})).rejects.toThrow(/^address: no neighbor/);
    });
  });
}

describe('route rows: age', () => {
  it('counts from when the path was learned or last changed; the same path announced again keeps it', { timeout: 20_000 }, async () => {
    const { l, get } = await lab(false);
    const a = await l.peer(A, 65102);
    const held = () => l.speaker.receivedPaths(l.speaker.neighbors.get(A)!);
    a.send(announce(attrs([65102, 3356]), ['10.61.9.0/24']));
    await until(() => held() === 1);
    const age = async () => (await get('/rib?prefix=10.61.9.0/24')).json().routes[0].paths[0].age as number;
    expect(await age()).toBeLessThanOrEqual(1);
    await sleep(2_100);
    expect(await age()).toBeGreaterThanOrEqual(2);
    // The same attributes again: nothing changed, the age stands.
    a.send(announce(attrs([65102, 3356]), ['10.61.9.0/24', '10.61.9.128/25']));
    await until(() => held() === 2);
    expect(await age()).toBeGreaterThanOrEqual(2);
    // Other attributes: a changed path, its age starts again.
    a.send(announce(attrs([65102, 174]), ['10.61.9.0/24']));
    await eventually(async () => (await get('/rib?prefix=10.61.9.0/24')).json().routes[0].paths[0].path === '65102 174');
    expect(await age()).toBeLessThanOrEqual(1);
  });
});
