import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Daemon, SessionView } from './daemon.js';
import * as gobgp from './daemons/gobgp.js';
import * as frr from './daemons/frr.js';
import { waitFor } from './daemons/proc.js';

const G = { address: '127.0.0.51', asn: 65051 };
const F = { address: '127.0.0.52', asn: 65052 };
const base = mkdtempSync(join(tmpdir(), 'scratch-gobgp-frr-'));
const running: Daemon[] = [];

function pair(gobgpPassive: boolean, gHold: number, fHold: number, tag: string): { g: Daemon; f: Daemon } {
  const g = gobgp.create({
    runDir: join(base, `gobgp-${tag}`),
    address: G.address,
    port: 179,
    asn: G.asn,
    routerId: G.address,
    peer: { address: F.address, port: 179, asn: F.asn, passive: gobgpPassive, holdTime: gHold },
  });
  const f = frr.create({
    runDir: join(base, `frr-${tag}`),
    address: F.address,
    port: 179,
    asn: F.asn,
    routerId: F.address,
    peer: { address: G.address, port: 179, asn: G.asn, passive: !gobgpPassive, holdTime: fHold },
  });
  running.push(g, f);
  return { g, f };
}

async function bothEstablished(a: Daemon, b: Daemon, timeoutMs = 40_000): Promise<[SessionView, SessionView]> {
  let views: [SessionView, SessionView] | undefined;
  await waitFor(
    'both Established',
    async () => {
      views = [await a.session(), await b.session()];
      return views[0].established && views[1].established;
    },
    timeoutMs,
    500,
  );
  return views!;
}

const sorted = (x: string[] | null) => [...(x ?? [])].sort();

async function stopAll() {
  while (running.length) await running.pop()!.stop();
}

afterAll(stopAll);

describe('gobgp <-> frr drivers', () => {
  it('gobgp active, frr passive: caps, hold time, shutdown text both ways', async () => {
    const { g, f } = pair(false, 30, 9, 'a');
    await Promise.all([g.start(), f.start()]);
    const [gv, fv] = await bothEstablished(g, f);
    console.log('gobgp view', JSON.stringify(gv));
    console.log('frr view', JSON.stringify(fv));
    expect(sorted(gv.localCapabilities)).toEqual(sorted(fv.remoteCapabilities));
    expect(sorted(fv.localCapabilities)).toEqual(sorted(gv.remoteCapabilities));
    expect(gv.holdTime).toBe(9);
    expect(fv.holdTime).toBe(9);

    await g.shutdownPeer('scratch shutdown text');
    await waitFor('frr lastError', async () => (await f.session()).lastError.includes('scratch shutdown text'), 5_000);
    console.log('frr lastError after gobgp shutdown:', (await f.session()).lastError);

    await bothEstablished(g, f);
    await f.shutdownPeer('scratch shutdown text from frr');
    await waitFor('gobgp lastError', async () => (await g.session()).lastError.includes('scratch shutdown text from frr'), 5_000);
    console.log('gobgp lastError after frr shutdown:', (await g.session()).lastError);
    await stopAll();
  }, 120_000);

  it('frr active, gobgp passive: hold timer expiry both ways', async () => {
    const { g, f } = pair(true, 3, 3, 'b');
    await Promise.all([g.start(), f.start()]);
    const [gv, fv] = await bothEstablished(g, f);
    expect(gv.holdTime).toBe(3);
    expect(fv.holdTime).toBe(3);
    expect(sorted(gv.localCapabilities)).toEqual(sorted(fv.remoteCapabilities));
    expect(sorted(fv.localCapabilities)).toEqual(sorted(gv.remoteCapabilities));

    g.pause();
    try {
      await waitFor('frr hold timer expired', async () => /hold timer expired/i.test((await f.session()).lastError), 10_000, 250);
    } finally {
      g.resume();
    }
    console.log('frr lastError after gobgp pause:', (await f.session()).lastError);
    await bothEstablished(g, f);

    f.pause();
    try {
      await waitFor('gobgp hold timer expired', async () => /hold timer expired/i.test((await g.session()).lastError), 10_000, 250);
    } finally {
      f.resume();
    }
    console.log('gobgp lastError after frr pause:', (await g.session()).lastError);
    await bothEstablished(g, f);
    await stopAll();
  }, 120_000);
});
