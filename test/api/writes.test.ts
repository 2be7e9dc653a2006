// Writes through the API, behind the token: routes announced and withdrawn in bulk (checked
// whole before anything changes), reaching an eBGP receiver with our AS prepended; neighbors
// disabled, enabled, reset and soft reset; no token in any answer.
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../../src/api/server.js';
import { client } from '../../src/cli/client.js';
import { State } from '../../src/neighbor/fsm.js';
import { AttrType, CeaseSubcode, MessageType } from '../../src/packet/index.js';
import { captureLog, until } from '../helpers/rawPeer.js';
import { get, LOCAL_AS, OPEN_POLICY, pathOf, startLab, Table, useCleanup } from '../helpers/lab.js';

const add = useCleanup();
beforeAll(() => {
  captureLog();
});

const HOST = '127.0.64.1';
const SINK = '127.0.64.2'; // AS 65302, eBGP receiver
const TOKEN = 'sekrit-token-0123';

async function lab(token: string | null = TOKEN) {
  const l = await startLab(add, HOST, [{ address: SINK, 'remote-as': 65302, ...OPEN_POLICY }], { prefixes: 1 << 18, paths: 1 << 18 });
  const api = new ApiServer(l.speaker, { token: token ?? undefined });
  const port = await api.listen('127.0.0.1', 0);
  add(() => api.close());
  const post = async (path: string, body: unknown, auth: string | undefined = token ?? undefined) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body: JSON.stringify(body), headers: auth ? { authorization: `Bearer ${auth}` } : {} });
    const text = await r.text();
    expect(text).not.toContain(TOKEN);
    return { status: r.status, body: JSON.parse(text) };
  };
  const summary = async () => ((await (await fetch(`http://127.0.0.1:${port}/rib/summary`)).json()) as any).ipv4Unicast.prefixes as number;
  return { l, api, port, post, summary };
}

describe('API writes', () => {
  it('refuses every write without a configured token, and with a wrong one; nothing changes', async () => {
    const off = await lab(null);
    const r1 = await off.post('/routes', { routes: [{ prefix: '10.64.0.0/24' }] }, 'anything');
    expect(r1.status).toBe(403);
    expect(r1.body).toMatchObject({ field: 'token' });
    const on = await lab();
    for (const auth of ['', 'wrong-token-0000']) {
      const r = await on.post('/routes', { routes: [{ prefix: '10.64.0.0/24' }] }, auth);
      expect(r.status).toBe(401);
      expect(r.body.error).toMatch(/^token: /);
    }
    expect((await on.post(`/neighbors/${SINK}/disable`, {}, 'nope-nope-nope')).status).toBe(401);
    expect(await on.summary()).toBe(0);
    expect(on.l.speaker.neighbors.get(SINK)!.adminUp).toBe(true);
  });

  it('announces routes with attributes to an eBGP receiver, and withdraws them', async () => {
    const { l, post, port } = await lab();
    const sink = new Table(await l.peer(SINK, 65302));
    const r = await post('/routes', {
      routes: [
        { prefix: '10.64.1.0/24', 'as-path': [64999], communities: ['65000:7', '65000:8'], 'large-communities': ['65000:1:2'], med: 20, origin: 'incomplete' },
        { prefix: '10.64.2.0/24' },
        { prefix: '2001:db8:64::/48', 'next-hop': '2001:db8::1' },
      ],
    });
    expect(r).toEqual({ status: 200, body: { announced: 3 } });
    await until(() => sink.sync().size === 2); // the IPv4 session carries IPv4 only
    expect(pathOf(sink.get('10.64.1.0/24'))).toEqual([LOCAL_AS, 64999]);
    expect(pathOf(sink.get('10.64.2.0/24'))).toEqual([LOCAL_AS]);
    expect(get(sink.get('10.64.1.0/24'), AttrType.COMMUNITIES, 'communities')).toEqual([((65000 << 16) | 7) >>> 0, ((65000 << 16) | 8) >>> 0]);
    expect(get(sink.get('10.64.1.0/24'), AttrType.ORIGIN, 'origin')).toBe(2);
    const rib: any = await (await fetch(`http://127.0.0.1:${port}/rib?prefix=10.64.1.0/24`)).json();
    expect(rib.routes[0].paths[0]).toMatchObject({ fromPeer: 'local', peerAs: LOCAL_AS, best: true, med: 20, largeCommunities: ['65000:1:2'], nextHop: '10.0.0.1' });
    const six: any = await (await fetch(`http://127.0.0.1:${port}/rib?prefix=2001:db8:64::/48`)).json();
    expect(six.routes[0].paths[0]).toMatchObject({ fromPeer: 'local', nextHop: '2001:db8::1' });
    expect(await post('/routes/withdraw', { prefixes: ['10.64.1.0/24', '2001:db8:64::/48'] })).toEqual({ status: 200, body: { withdrawn: 2 } });
    await until(() => sink.sync().size === 1);
    expect(sink.has('10.64.2.0/24')).toBe(true);
  });

  it('checks a whole request before anything is announced', async () => {
    const { post, summary } = await lab();
    const cases: Array<[unknown, string]> = [
      [{ routes: [{ prefix: '10.64.3.0/24' }, { prefix: '10.64.3.0/33' }] }, 'routes[1].prefix'],
      [{ routes: [{ prefix: '10.64.3.0/24', med: -1 }] }, 'routes[0].med'],
      [{ routes: [{ prefix: '10.64.3.0/24', colour: 'red' }] }, 'routes[0].colour'],
      [{ routes: [{ prefix: '10.64.3.0/24', communities: ['65000:x'] }] }, 'routes[0].communities'],
      [{ routes: [{ prefix: '10.64.3.0/24', 'next-hop': '2001:db8::1' }] }, 'routes[0].next-hop'],
      [{ routes: [] }, 'routes'],
      [{ rutes: [] }, 'rutes'],
      [{ prefixes: ['10.0.0.0/8'] }, 'prefixes'],
    ];
    for (const [body, field] of cases) {
      const r = await post('/routes', body);
      expect([field, r.status]).toEqual([field, 400]);
      expect(r.body.field).toBe(field);
    }
    const bad = await fetch(`http://127.0.0.1:${(await lab()).port}/routes`, { method: 'POST', body: '{"routes": [', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).field).toBe('body');
    expect(await summary()).toBe(0);
  });

  it('announces 100,000 routes in one request', async () => {
    const { post, summary } = await lab();
    const routes = Array.from({ length: 100_000 }, (_, i) => ({ prefix: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`, 'as-path': [64512 + (i % 7)] }));
    const r = await post('/routes', { routes });
    expect(r).toEqual({ status: 200, body: { announced: 100_000 } });
    expect(await summary()).toBe(100_000);
  });

  it('disables, enables, resets and soft resets a neighbor', async () => {
    const { l, post } = await lab();
    const n = l.speaker.neighbors.get(SINK)!;
    let peer = await l.peer(SINK, 65302);
    // soft reset in: a ROUTE-REFRESH goes to the peer; out: the table again (End-of-RIB follows)
    expect(await post(`/neighbors/${SINK}/soft-reset-in`, {})).toMatchObject({ status: 200, body: { families: ['ipv4-unicast'] } });
    await peer.waitFor(MessageType.ROUTE_REFRESH);
    expect((await post(`/neighbors/${SINK}/soft-reset-out`, { family: 'ipv4-unicast' })).status).toBe(200);
    expect((await post(`/neighbors/${SINK}/soft-reset-out`, { family: 'ipv5' })).body.field).toBe('family');
    // reset: Cease / Administrative Reset with the text, then the neighbor starts again
    expect((await post(`/neighbors/${SINK}/reset`, { message: 'maintenance' })).status).toBe(200);
    const reset = await peer.notification();
    expect([reset.code, reset.subcode]).toEqual([6, CeaseSubcode.AdministrativeReset]);
    await until(() => n.state !== State.Established && n.adminUp);
    peer = await l.peer(SINK, 65302);
    // disable: Cease / Administrative Shutdown, stays down; enable brings it back
    const off = await post(`/neighbors/${SINK}/disable`, { message: 'bye' });
    expect(off.body).toMatchObject({ adminState: 'down', state: 'Idle' });
    expect((await peer.notification()).subcode).toBe(CeaseSubcode.AdministrativeShutdown);
    expect((await post(`/neighbors/${SINK}/soft-reset-in`, {})).status).toBe(409);
    expect((await post(`/neighbors/${SINK}/enable`, {})).body).toMatchObject({ adminState: 'up' });
    await l.peer(SINK, 65302);
    expect(n.state).toBe(State.Established);
    expect((await post('/neighbors/192.0.2.1/reset', {})).status).toBe(404);
    expect((await post(`/neighbors/${SINK}/explode`, {})).body.field).toBe('action');
  });

  it('the CLI announces and withdraws with the token from the environment', async () => {
    const { port, summary } = await lab();
    const lines: string[] = [];
    const api = ['--api', `127.0.0.1:${port}`];
    await expect(client('announce', ['10.64.9.0/24', ...api], () => {})).rejects.toThrow(/^token: /);
    process.env.RIBSTORM_API_TOKEN = TOKEN;
    try {
      expect(await client('announce', ['10.64.9.0/24', '10.64.10.0/24', '--as-path', '65010 65011', '--community', '65000:1', '--med', '5', ...api], (x) => lines.push(x))).toBe(0);
      expect(lines).toEqual(['announced 2']);
      expect(await summary()).toBe(2);
      expect(await client('withdraw', ['10.64.9.0/24', ...api], (x) => lines.push(x))).toBe(0);
      expect(lines.at(-1)).toBe('withdrew 1');
      expect(await summary()).toBe(1);
    } finally {
      delete process.env.RIBSTORM_API_TOKEN;
    }
  });
});
