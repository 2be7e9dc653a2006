// Graceful restart as the receiving speaker (RFC 4724 §4.2), with a real BIRD that dies without
// a word (SIGKILL: the TCP connection closes, no NOTIFICATION) and comes back: its paths are kept,
// marked stale, and still the best; after the new session's End-of-RIB the ones it did not
// announce again are gone and the others are fresh. Without a restart, the stale paths go once
// the restart time BIRD announced has run out.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as bird from '../../src/harness/daemons/bird.js';
import { lookup } from '../../src/rib/query.js';
import type { Speaker } from '../../src/speaker/speaker.js';
import { freePort } from '../helpers/env.js';
import { until } from '../helpers/rawPeer.js';
import { State } from '../../src/neighbor/fsm.js';
import { established, HOLD_TIME, RouteSuite, routeTestHooks } from './routeSuite.js';

const suite = new RouteSuite({ name: 'graceful-restart', family: 'ipv4', asn: 65000, routerId: '10.91.0.1', daemonIdPrefix: '10.91.0' });
const { speakers, cleanup } = routeTestHooks();
const RIBSTORM = '127.0.91.1';
const BIRD = '127.0.91.2';
const BIRD_AS = 65091;
const PREFIXES = ['198.51.91.0/24', '198.51.92.0/24', '198.51.93.0/24'];

/** The routes BIRD originates, as a static protocol its BGP channel exports. */
const statics = (prefixes: string[]) => `protocol static origin4 { ipv4; ${prefixes.map((p) => `route ${p} blackhole;`).join(' ')} }\n`;

/** ribstorm's paths for `prefix`: whether it has one from BIRD, stale or not, and best. */
function pathOf(s: Speaker, prefix: string): { stale: boolean; best: boolean } | null {
  const p = lookup(s.rib!.views, prefix)[0];
  return p ? { stale: p.stale, best: p.best } : null;
}

async function startBird(ribstorm: { address: string; port: number }, port: number, prefixes: string[], restartTime: number): Promise<bird.BirdDaemon> {
  const d = bird.create(
    {
      runDir: mkdtempSync(join(tmpdir(), 'ribstorm-gr-bird-')),
      address: BIRD,
      port,
      asn: BIRD_AS,
      routerId: '10.91.0.2',
      peer: { address: ribstorm.address, port: ribstorm.port, asn: 65000, passive: false, holdTime: HOLD_TIME },
    },
    { extraConfig: statics(prefixes), gracefulRestartTime: restartTime },
  );
  cleanup.push(() => d.stop());
  await d.start();
  return d;
}

async function setUp(restartTime: number) {
  const port = await freePort(RIBSTORM);
  const birdPort = await freePort(BIRD);
  // ribstorm waits: BIRD connects, before and after its restart.
  const s = suite.createSpeaker(RIBSTORM, port, [{ address: BIRD, asn: BIRD_AS, extra: { passive: true } }]);
  speakers.push(s);
  cleanup.push(() => s.shutdown('test over', 200));
  await s.start();
  const d = await startBird({ address: RIBSTORM, port }, birdPort, PREFIXES, restartTime);
  await established(s, [BIRD], 'BIRD');
  await until(() => PREFIXES.every((p) => pathOf(s, p) !== null), 15_000, 'BIRD routes in ribstorm');
  return { s, d, port, birdPort };
}

/** BIRD or a reported skip; with RIBSTORM_REQUIRE_INTEROP=1 (CI) a missing BIRD fails. */
function needBird(ctx: { skip: (why: string) => void }): void {
  const why = bird.unavailable();
  if (why === null) return;
  if (process.env.RIBSTORM_REQUIRE_INTEROP === '1') expect.fail(`BIRD: ${why}`);
  ctx.skip(`BIRD: ${why}`);
}

describe('graceful restart (receiving speaker) with BIRD', () => {
  it('BIRD killed and restarted with one route fewer: paths kept stale meanwhile, then swept at its End-of-RIB', { timeout: 90_000 }, async (ctx) => {
    needBird(ctx);
    const { s, d, port, birdPort } = await setUp(60);
    expect(PREFIXES.map((p) => pathOf(s, p))).toEqual(PREFIXES.map(() => ({ stale: false, best: true })));
    const n = s.neighbors.get(BIRD)!;
    expect(n.session?.peerGracefulRestart?.restartTime).toBe(60);

    process.kill(d.pid, 'SIGKILL'); // no NOTIFICATION: the kernel closes the connection
    await until(() => n.state !== State.Established, 10_000, 'the session lost');
    await until(() => PREFIXES.every((p) => pathOf(s, p)?.stale === true), 10_000, 'the paths marked stale');
    // Still the best paths (RFC 4724 §4.2: kept for forwarding while the peer restarts).
    expect(PREFIXES.map((p) => pathOf(s, p)?.best)).toEqual([true, true, true]);

    // Back, originating the first two only: after its End-of-RIB the third goes, the others are fresh.
    await startBird({ address: RIBSTORM, port }, birdPort, PREFIXES.slice(0, 2), 60);
    await established(s, [BIRD], 'BIRD again');
    await until(() => pathOf(s, PREFIXES[2]) === null, 15_000, 'the route not announced again swept');
    expect(PREFIXES.slice(0, 2).map((p) => pathOf(s, p))).toEqual([
      { stale: false, best: true },
      { stale: false, best: true },
    ]);
  });

  it('BIRD killed and not back: its stale paths go when the restart time it announced runs out', { timeout: 60_000 }, async (ctx) => {
    needBird(ctx);
    const { s, d } = await setUp(3);
    const n = s.neighbors.get(BIRD)!;
    process.kill(d.pid, 'SIGKILL');
    await until(() => n.state !== State.Established, 10_000, 'the session lost');
    await until(() => PREFIXES.every((p) => pathOf(s, p)?.stale === true), 5_000, 'the paths marked stale');
    const lostAt = Date.now();
    await until(() => PREFIXES.every((p) => pathOf(s, p) === null), 15_000, 'the stale paths removed');
    // Not before the restart time (3 s) has run out.
    expect(Date.now() - lostAt).toBeGreaterThanOrEqual(2_000);
  });
});
