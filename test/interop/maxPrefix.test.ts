// max-prefix with a real peer: BIRD originates five routes towards a ribstorm neighbor limited
// to three with action `disable`. BIRD is told why (Cease / Maximum Number of Prefixes Reached,
// RFC 4486 §4, and its CLI shows it), ribstorm keeps the session down and holds none of its
// routes; the other neighbor's session and routes are untouched.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as bird from '../../src/harness/daemons/bird.js';
import { State } from '../../src/neighbor/fsm.js';
import { lookup } from '../../src/rib/query.js';
import { freePort } from '../helpers/env.js';
import { sleep, until } from '../helpers/rawPeer.js';
import { established, eventually, HOLD_TIME, RouteSuite, routeTestHooks } from './routeSuite.js';

const suite = new RouteSuite({ name: 'max-prefix', family: 'ipv4', asn: 65000, routerId: '10.92.0.1', daemonIdPrefix: '10.92.0' });
const { speakers, cleanup } = routeTestHooks();
const RIBSTORM = '127.0.92.1';
const LIMITED = { address: '127.0.92.2', asn: 65092 };
const OTHER = { address: '127.0.92.3', asn: 65093 };

async function startBird(who: { address: string; asn: number }, ribstorm: { address: string; port: number }, prefixes: string[]): Promise<bird.BirdDaemon> {
  const d = bird.create(
    {
      runDir: mkdtempSync(join(tmpdir(), 'ribstorm-maxprefix-bird-')),
      address: who.address,
      port: await freePort(who.address),
      asn: who.asn,
      routerId: who.address.replace('127.0.92', '10.92.0'),
      peer: { address: ribstorm.address, port: ribstorm.port, asn: 65000, passive: false, holdTime: HOLD_TIME },
    },
    { extraConfig: `protocol static origin4 { ipv4; ${prefixes.map((p) => `route ${p} blackhole;`).join(' ')} }\n` },
  );
  cleanup.push(() => d.stop());
  await d.start();
  return d;
}

describe('max-prefix with BIRD', () => {
  it('five routes against a limit of three (disable): BIRD gets Cease / Maximum Number of Prefixes Reached, the session stays down, the other one is untouched', { timeout: 60_000 }, async (ctx) => {
    const why = bird.unavailable();
    if (why !== null) {
      if (process.env.RIBSTORM_REQUIRE_INTEROP === '1') expect.fail(`BIRD: ${why}`);
      ctx.skip(`BIRD: ${why}`);
    }
    const port = await freePort(RIBSTORM);
    const s = suite.createSpeaker(RIBSTORM, port, [
      { address: LIMITED.address, asn: LIMITED.asn, extra: { passive: true, 'max-prefix': { limit: 3, action: 'disable' } } },
      { address: OTHER.address, asn: OTHER.asn, extra: { passive: true } },
    ]);
    speakers.push(s);
    cleanup.push(() => s.shutdown('test over', 200));
    await s.start();
    const other = await startBird(OTHER, { address: RIBSTORM, port }, ['198.51.95.0/24']);
    await established(s, [OTHER.address], 'the other BIRD');
    await until(() => lookup(s.rib!.views, '198.51.95.0/24').length === 1, 15_000, "the other BIRD's route");
    const limited = await startBird(LIMITED, { address: RIBSTORM, port }, ['198.51.90.0/24', '198.51.91.0/24', '198.51.92.0/24', '198.51.93.0/24', '198.51.94.0/24']);
    // BIRD shows the NOTIFICATION it received.
    const view = await eventually(async () => {
      const v = await limited.session();
      expect(v.lastError).toMatch(/maximum number of prefixes/i);
      return v;
    }, 20_000);
    expect(view.established).toBe(false);
    const n = s.neighbors.get(LIMITED.address)!;
    expect(n.lastError).toMatchObject({ direction: 'sent', code: 6, subcode: 1 });
    // disable: down it stays, BIRD's retries notwithstanding (its error wait is 1-3 s), with none of its routes.
    await sleep(4_000);
    expect(n.state).toBe(State.Idle);
    expect(n.adminUp).toBe(false);
    expect(s.receivedPaths(n)).toBe(0);
    expect(['198.51.90.0/24', '198.51.94.0/24'].map((p) => lookup(s.rib!.views, p).length)).toEqual([0, 0]);
    // The other session: never touched.
    const o = s.neighbors.get(OTHER.address)!;
    expect(o.state).toBe(State.Established);
    expect(o.establishedCount).toBe(1);
    expect(lookup(s.rib!.views, '198.51.95.0/24').length).toBe(1);
    expect((await other.session()).established).toBe(true);
  });
});
