// Scratch: BIRD <-> relay (/tmp/capture/relay.mjs) <-> OpenBGPD, to record real messages.
import { it } from 'vitest';
import { rmSync } from 'node:fs';
import * as bird from './daemons/bird.js';
import * as openbgpd from './daemons/openbgpd.js';
import { isListening, sleep, startDetached, stopGroup, waitFor } from './daemons/proc.js';
import type { Daemon } from './daemon.js';

const RELAY = '127.0.0.43';
const OUT = '/tmp/capture/out';

const BIRD_ROUTES = `
protocol static static4 {
  ipv4 { import all; };
  route 198.51.100.0/24 blackhole { bgp_community.add((65041,100)); bgp_community.add((65041,200)); bgp_large_community.add((65041,1,2)); bgp_ext_community.add((rt,65041,7)); bgp_med = 50; };
  route 198.51.100.128/25 blackhole { bgp_med = 10; };
}
protocol static static6 {
  ipv6 { import all; };
  route 2001:db8:41::/48 blackhole { bgp_community.add((65041,600)); bgp_large_community.add((65041,6,6)); bgp_ext_community.add((ro,65041,9)); };
  route 2001:db8:41:1::/64 blackhole;
}
`;
const OBGPD_ROUTES = `
network 203.0.113.0/25 set { community 65042:100 large-community 65042:1:2 ext-community rt 65042:7 med 60 nexthop 198.18.0.42 }
network 203.0.113.128/25 set nexthop 198.18.0.42
network 2001:db8:42::/48 set { community 65042:600 large-community 65042:6:6 nexthop 2001:db8::0:42 }
`;

const step = (s: string) => console.log(`${new Date().toISOString()} ${s}`);
async function established(...ds: Daemon[]) {
  for (const d of ds) await waitFor(`${d.name} established`, async () => (await d.session()).established, 40_000, 200);
}

it('capture', async () => {
  rmSync(OUT, { recursive: true, force: true });
  const relay = startDetached('node', ['/tmp/capture/relay.mjs', RELAY, '127.0.0.41', '127.0.0.42', OUT], {
    cwd: '/tmp/capture',
    logFile: '/tmp/capture/relay.log',
  });
  await waitFor('relay', () => isListening(RELAY, 179));
  const o = openbgpd.create(
    {
      runDir: '/tmp/capture/run/openbgpd', address: '127.0.0.42', port: 179, asn: 65042, routerId: '127.0.0.42',
      peer: { address: RELAY, port: 179, asn: 65041, passive: true, holdTime: 30 },
    },
    { extraConfig: OBGPD_ROUTES },
  );
  const b = bird.create(
    {
      runDir: '/tmp/capture/run/bird', address: '127.0.0.41', port: 179, asn: 65041, routerId: '127.0.0.41',
      peer: { address: RELAY, port: 179, asn: 65042, passive: false, holdTime: 30 },
    },
    { extraConfig: BIRD_ROUTES },
  );
  try {
    await o.start();
    await b.start();
    await established(b, o);
    step('established');
    await sleep(4000);
    step('birdc reload in');
    console.log(await b.birdc('reload', 'in', bird.PROTOCOL));
    await sleep(3000);
    step('bgpctl refresh');
    console.log(await o.bgpctl('neighbor', RELAY, 'refresh'));
    await sleep(3000);
    step('withdrawals');
    console.log(await b.birdc('disable', 'static4'));
    console.log(await b.birdc('disable', 'static6'));
    console.log(await o.bgpctl('network', 'delete', '203.0.113.128/25'));
    console.log(await o.bgpctl('network', 'delete', '2001:db8:42::/48'));
    await sleep(3000);
    step('bird shutdown');
    await b.shutdownPeer('fixture: bird shutdown communication');
    await waitFor('openbgpd got text', async () => (await o.session()).lastError.includes('fixture: bird'), 10_000);
    console.log('openbgpd:', (await o.session()).lastError);
    await b.enablePeer();
    await established(b, o);
    step('established again');
    await sleep(3000);
    step('openbgpd shutdown');
    await o.shutdownPeer('fixture: openbgpd shutdown communication');
    await waitFor('bird got text', async () => (await b.session()).lastError.includes('fixture: openbgpd'), 10_000);
    console.log('bird:', (await b.session()).lastError);
    await sleep(1000);
  } finally {
    await b.stop();
    await o.stop();
    await stopGroup(relay);
  }
}, 180_000);
