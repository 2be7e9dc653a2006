import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { create, available, type ExabgpDaemon } from './daemons/exabgp.js';
import { spawn } from 'node:child_process';
import { signalGroup, runCli, startDetached, stopGroup, waitFor, sleep, type Started } from './daemons/proc.js';

const EXA = '127.0.0.61';
const BIRD = '127.0.0.62';

class Bird {
  proc?: Started;
  sock: string;
  constructor(
    readonly dir: string,
    readonly o: { passive: boolean; hold: number; neighbor?: string },
  ) {
    mkdirSync(dir, { recursive: true });
    this.sock = join(dir, 'bird.ctl');
  }
  async start(): Promise<void> {
    const conf = `router id ${BIRD};
ipv4 table igp4; ipv6 table igp6;
protocol device {}
protocol static igpstat4 { ipv4 { table igp4; }; route 0.0.0.0/0 via "lo"; }
protocol static igpstat6 { ipv6 { table igp6; }; route ::/0 via "lo"; }
protocol bgp exa {
  local ${BIRD} port 179 as 65062;
  neighbor ${this.o.neighbor ?? EXA} port 179 as 65061;
  multihop;
  strict bind yes;
  ${this.o.passive ? 'passive on;' : ''}
  hold time ${this.o.hold};
  keepalive time ${Math.max(1, Math.floor(this.o.hold / 3))};
  connect retry time 2;
  connect delay time 1;
  error wait time 1, 3;
  ipv4 { import all; export none; igp table igp4; };
  ipv6 { import all; export none; igp table igp6; };
}
`;
    writeFileSync(join(this.dir, 'bird.conf'), conf);
    this.proc = startDetached(
      'bird',
      ['-f', '-c', join(this.dir, 'bird.conf'), '-s', this.sock, '-P', join(this.dir, 'bird.pid')],
      { cwd: this.dir, logFile: join(this.dir, 'bird.log') },
    );
    await waitFor('bird socket', async () => (await runCli('birdc', ['-s', this.sock, 'show', 'status'])).code === 0);
  }
  async show(): Promise<string> {
    return (await runCli('birdc', ['-s', this.sock, 'show', 'protocols', 'all', 'exa'])).stdout;
  }
  async stop(): Promise<void> {
    if (this.proc) await stopGroup(this.proc);
  }
}

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  cleanups = [];
});

function setup(exaPassive: boolean, exaHold: number, birdHold: number, gr = false) {
  const root = mkdtempSync(join(tmpdir(), 'exa-scratch-'));
  const exa = create(
    {
      runDir: join(root, 'exa'),
      address: EXA,
      port: 179,
      asn: 65061,
      routerId: EXA,
      peer: { address: BIRD, port: 179, asn: 65062, passive: exaPassive, holdTime: exaHold },
    },
    { gracefulRestart: gr },
  );
  const bird = new Bird(join(root, 'bird'), { passive: !exaPassive, hold: birdHold });
  cleanups.push(
    () => exa.stop(),
    () => bird.stop(),
  );
  return { exa, bird, root };
}

async function established(exa: ExabgpDaemon, bird: Bird): Promise<void> {
  await waitFor('established both sides', async () => (await exa.session()).established && /Established/.test(await bird.show()), 30_000, 200);
}

describe.skipIf(!available())('exabgp driver against BIRD', () => {
  it('active ExaBGP: capabilities, hold time, shutdown, keepalives, SIGTERM', async () => {
    const { exa, bird, root } = setup(false, 9, 6);
    await bird.start();
    await exa.start();
    console.log('root', root, 'pid', exa.pid);
    await established(exa, bird);
    const s = await exa.session();
    console.log(JSON.stringify(s, null, 1));
    const b = await bird.show();
    console.log(b);
    expect(s.state).toBe('ESTABLISHED');
    expect(s.holdTime).toBe(6);
    expect(b).toMatch(/Hold timer:\s+[\d.]+\/6/);
    // what BIRD says it received from ExaBGP vs what ExaBGP says it sent
    expect(new Set(s.localCapabilities)).toEqual(
      new Set([
        'multiprotocol:ipv4-unicast',
        'multiprotocol:ipv6-unicast',
        'asn4',
        'route-refresh',
        'enhanced-route-refresh',
        'extended-message',
      ]),
    );
    const neighborCaps = b.split('Neighbor capabilities')[1].split('Session:')[0];
    expect(neighborCaps).toMatch(/Route refresh/);
    expect(neighborCaps).toMatch(/Enhanced refresh/);
    expect(neighborCaps).toMatch(/Extended message/);
    expect(neighborCaps).toMatch(/4-octet AS numbers/);
    expect(neighborCaps).not.toMatch(/Graceful restart/);
    // BIRD's OPEN as ExaBGP saw it
    expect(new Set(s.remoteCapabilities)).toEqual(
      new Set([
        'multiprotocol:ipv4-unicast',
        'multiprotocol:ipv6-unicast',
        'route-refresh',
        'graceful-restart',
        'asn4',
        'enhanced-route-refresh',
        'llgr',
      ]),
    );
    await sleep(7000);
    const ka = await exa.keepalivesReceived();
    console.log('keepalives', ka.map((t, i) => (i ? t - ka[i - 1] : 0)));
    expect(ka.length).toBeGreaterThanOrEqual(3);

    console.log('show neighbor summary:', await exa.command('show', 'neighbor', 'summary'));
    const bad = await exa.command('bogus', 'command').then((o) => `resolved: ${o}`, (e: Error) => `rejected: ${e.message}`);
    console.log('bogus command', bad);
    await exa.shutdownPeer('maintenance window');
    const after = await exa.session();
    console.log('after shutdown', after);
    expect(after.lastError).toBe('sent Cease / Administrative Shutdown (6/2), shutdown communication "Administrative Shutdown"');
    await sleep(500);
    const b2 = await bird.show();
    console.log(b2);
    expect(b2).toMatch(/Message:\s+Administrative Shutdown/);
    await established(exa, bird);

    await runCli('birdc', ['-s', bird.sock, 'disable', 'exa', '"going down for maintenance ✓"']);
    await waitFor('exabgp sees cease', async () => /received Cease/.test((await exa.session()).lastError), 10_000, 100);
    const rs = await exa.session();
    console.log('after bird disable', rs);
    expect(rs.lastError).toBe('received Cease / Administrative Shutdown (6/2), shutdown communication "going down for maintenance ✓"');
    expect(rs.established).toBe(false);
    await runCli('birdc', ['-s', bird.sock, 'enable', 'exa']);
    await established(exa, bird);

    await exa.stop();
    await sleep(500);
    const b3 = await bird.show();
    console.log('after SIGTERM', b3.split('\n').slice(0, 10).join('\n'));
    console.log('after stop', await exa.session());
  });

  it('passive ExaBGP, hold timer expiry while paused', async () => {
    const { exa, bird } = setup(true, 3, 3);
    await exa.start();
    await bird.start();
    await established(exa, bird);
    const s = await exa.session();
    console.log(s);
    expect(s.holdTime).toBe(3);
    exa.pause();
    await waitFor('bird hold timer', async () => /Hold timer expired/i.test(await bird.show()), 10_000, 200);
    console.log(await bird.show());
    exa.resume();
    await waitFor('exabgp sees the error', async () => /Hold Timer Expired/.test((await exa.session()).lastError), 10_000, 200);
    console.log('after resume', await exa.session());
    await established(exa, bird);
    await exa.stop();
  });

  it('graceful restart advertised on request; shutdownPeer refuses', async () => {
    const { exa, bird } = setup(false, 9, 9, true);
    await bird.start();
    await exa.start();
    await established(exa, bird);
    const s = await exa.session();
    expect(s.localCapabilities).toContain('graceful-restart');
    await expect(exa.shutdownPeer('x')).rejects.toThrow(/graceful-restart/);
    await exa.stop();
  });

  it('captures fixtures through a relay', async () => {
    const RELAY = '127.0.0.63';
    const root = mkdtempSync(join(tmpdir(), 'exa-fixtures-'));
    const out = join(root, 'msgs');
    const relay = spawn(process.execPath, ['/tmp/exa-relay.mjs', RELAY, BIRD, out], { stdio: 'inherit' });
    cleanups.push(async () => void relay.kill());
    const bird = new Bird(join(root, 'bird'), { passive: true, hold: 90, neighbor: RELAY });
    const exa = create(
      {
        runDir: join(root, 'exa'),
        address: EXA,
        port: 179,
        asn: 65061,
        routerId: '192.0.2.61',
        peer: { address: RELAY, port: 179, asn: 65062, passive: false, holdTime: 90 },
      },
      {
        staticRoutes: [
          'route 198.51.100.0/25 next-hop 198.18.0.1 origin igp as-path [ 65061 64500 ] med 100 community [ 65061:100 65061:200 no-export ] large-community [ 65061:1:2 ] extended-community [ target:65061:1 origin:65061:2 ]',
          'route 198.51.100.128/25 next-hop 198.18.0.1 origin igp as-path [ 65061 64500 ] med 100 community [ 65061:100 65061:200 no-export ] large-community [ 65061:1:2 ] extended-community [ target:65061:1 origin:65061:2 ]',
          'route 203.0.113.0/24 next-hop 198.18.0.2 as-path [ 65061 ] attribute [ 0xff 0xc0 0x0102030405 ]',
          'route 2001:db8:100::/48 next-hop 2001:db8::1 as-path [ 65061 64501 ] med 50 community [ 65061:600 ] large-community [ 65061:6:6 ]',
        ],
      },
    );
    cleanups.push(() => exa.stop(), () => bird.stop());
    await sleep(300);
    await bird.start();
    await exa.start();
    await waitFor('established', async () => (await exa.session()).established, 30_000, 200);
    await sleep(2000);
    console.log(await runCli('birdc', ['-s', bird.sock, 'show', 'route', 'all']).then((r) => r.stdout));
    // BIRD asks for a refresh; ExaBGP answers with BoRR, the routes, EoRR
    console.log(await runCli('birdc', ['-s', bird.sock, 'reload', 'in', 'exa']).then((r) => r.stdout));
    await sleep(1500);
    console.log(await exa.command('announce', 'route-refresh', 'ipv4', 'unicast'));
    await sleep(1500);
    await exa.shutdownPeer('bye');
    await sleep(1000);
    await exa.stop();
    await bird.stop();
    console.log('fixtures in', out);
  });

  it('captures GR OPEN and hold-timer NOTIFICATION', async () => {
    const RELAY = '127.0.0.63';
    const root = mkdtempSync(join(tmpdir(), 'exa-fixtures2-'));
    const out = join(root, 'msgs');
    const relay = spawn(process.execPath, ['/tmp/exa-relay.mjs', RELAY, BIRD, out], { stdio: 'inherit' });
    cleanups.push(async () => void relay.kill());
    const bird = new Bird(join(root, 'bird'), { passive: true, hold: 3, neighbor: RELAY });
    const exa = create(
      {
        runDir: join(root, 'exa'),
        address: EXA,
        port: 179,
        asn: 65061,
        routerId: '192.0.2.61',
        peer: { address: RELAY, port: 179, asn: 65062, passive: false, holdTime: 3 },
      },
      { gracefulRestart: true },
    );
    cleanups.push(() => exa.stop(), () => bird.stop());
    await sleep(300);
    await bird.start();
    await exa.start();
    await waitFor('established', async () => (await exa.session()).established, 30_000, 200);
    signalGroup(bird.proc!.pid, 'SIGSTOP');
    await waitFor('hold timer', async () => /sent Hold Timer/.test((await exa.session()).lastError), 10_000, 200);
    console.log(await exa.session());
    signalGroup(bird.proc!.pid, 'SIGCONT');
    await exa.stop();
    await bird.stop();
    console.log('fixtures in', out);
  });
});
