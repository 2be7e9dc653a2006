// Scratch: BIRD <-> OpenBGPD through the two drivers (deleted once the drivers are validated).
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Daemon, SessionView } from './daemon.js';
import * as bird from './daemons/bird.js';
import * as openbgpd from './daemons/openbgpd.js';
import { waitFor } from './daemons/proc.js';

const BIRD = { address: '127.0.0.41', asn: 65041 };
const OBGPD = { address: '127.0.0.42', asn: 65042 };
// Capabilities bgpctl 7.7 can print at all.
const OBGPD_KNOWN = (c: string) =>
  c.startsWith('multiprotocol:') ||
  ['asn4', 'route-refresh', 'enhanced-route-refresh', 'graceful-restart', 'add-path', 'role'].includes(c);

const started: Daemon[] = [];
afterEach(async () => {
  for (const d of started.splice(0)) await d.stop();
});

async function until(d: Daemon, what: string, pred: (s: SessionView) => boolean, ms = 30_000) {
  let last: SessionView | undefined;
  try {
    await waitFor(`${d.name}: ${what}`, async () => pred((last = await d.session())), ms, 200);
  } catch (e) {
    throw new Error(`${(e as Error).message}\nlast: ${JSON.stringify(last)}`);
  }
  return last!;
}

const sorted = (xs: string[] | null) => [...(xs ?? [])].sort();

describe.runIf(bird.available() && openbgpd.available())('bird <-> openbgpd', () => {
  for (const birdActive of [true, false]) {
    it(`bird ${birdActive ? 'active' : 'passive'}, openbgpd ${birdActive ? 'passive' : 'active'}`, async () => {
      const root = mkdtempSync(join(tmpdir(), 'scratch-bo-'));
      const b = bird.create({
        runDir: join(root, 'bird'),
        address: BIRD.address,
        port: 179,
        asn: BIRD.asn,
        routerId: BIRD.address,
        peer: { address: OBGPD.address, port: 179, asn: OBGPD.asn, passive: !birdActive, holdTime: birdActive ? 9 : 3 },
      });
      const o = openbgpd.create({
        runDir: join(root, 'openbgpd'),
        address: OBGPD.address,
        port: 179,
        asn: OBGPD.asn,
        routerId: OBGPD.address,
        peer: { address: BIRD.address, port: 179, asn: BIRD.asn, passive: birdActive, holdTime: birdActive ? 3 : 9 },
      });
      await b.start();
      started.push(b);
      await o.start();
      started.push(o);

      const bs = await until(b, 'established', (s) => s.established);
      const os = await until(o, 'established', (s) => s.established);
      console.log('bird', JSON.stringify(bs));
      console.log('openbgpd', JSON.stringify(os));

      // What one side sent is what the other received (bgpctl cannot show all of it).
      expect(sorted(os.localCapabilities)).toEqual(sorted(bs.remoteCapabilities));
      expect(sorted(os.remoteCapabilities)).toEqual(sorted(bs.localCapabilities).filter(OBGPD_KNOWN));
      for (const c of ['multiprotocol:ipv4-unicast', 'multiprotocol:ipv6-unicast', 'route-refresh',
        'enhanced-route-refresh', 'asn4', 'graceful-restart']) {
        expect(bs.localCapabilities).toContain(c);
        expect(os.localCapabilities).toContain(c);
      }
      expect(bs.localCapabilities).toContain('extended-message');
      expect(bs.holdTime).toBe(3);
      expect(os.holdTime).toBe(3);
      expect(bs.lastError).toBe('');
      expect(os.lastError).toBe('');

      // Shutdown communication: the active side's daemon sends it this round.
      const [sender, receiver] = birdActive ? [b, o] : [o, b];
      await sender.shutdownPeer('scratch shutdown text');
      const got = await until(receiver, 'shutdown text', (s) => s.lastError.includes('scratch shutdown text'));
      const sent = await sender.session();
      console.log(`${receiver.name} after receiving shutdown:`, JSON.stringify(got.lastError), got.state);
      console.log(`${sender.name} after sending shutdown:`, JSON.stringify(sent.lastError), sent.state);
      expect(sent.established).toBe(false);

      await (sender as bird.BirdDaemon | openbgpd.OpenBgpdDaemon).enablePeer();
      await until(b, 'established again', (s) => s.established, 40_000);
      await until(o, 'established again', (s) => s.established, 40_000);

      // Hold timer: stop the other daemon; 3 s negotiated, so expiry within ~3 s.
      const [frozen, watcher] = birdActive ? [o, b] : [b, o];
      frozen.pause();
      try {
        const expired = await until(watcher, 'hold timer expiry', (s) => /hold ?timer expired/i.test(s.lastError), 15_000);
        console.log(`${watcher.name} after hold timer expiry:`, JSON.stringify(expired.lastError), expired.state);
        expect(expired.established).toBe(false);
      } finally {
        frozen.resume();
      }
      // OpenBGPD idles >= 30 s after a session error unless told otherwise.
      await until(o, 'down after resume', (s) => !s.established, 15_000);
      await o.enablePeer();
      await until(b, 'established after resume', (s) => s.established, 40_000);
      await until(o, 'established after resume', (s) => s.established, 40_000);
    }, 180_000);
  }
});
