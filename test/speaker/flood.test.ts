// A thousand connections from addresses that are not neighbors, and a thousand OPENs with a
// wrong AS from a configured one: each is closed at once (Bad Peer AS where a session was
// opened), the log gets a handful of lines, and an established session with a 3-second hold
// time keeps its keepalives on time throughout.
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { State } from '../../src/neighbor/fsm.js';
import { MessageType } from '../../src/packet/index.js';
import { captureLog, sleep } from '../helpers/rawPeer.js';
import { OPEN_POLICY, startLab, useCleanup } from '../helpers/lab.js';

const add = useCleanup();
let logLines: string[] = [];
beforeAll(() => {
  logLines = captureLog();
});

const HOST = '127.0.72.1';
const PEER = '127.0.72.2';

/** Connects from `from` and resolves with how long the speaker took to close it (ms). */
function knock(port: number, from: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = Date.now();
    const s = net.connect({ host: HOST, port, localAddress: from });
    s.on('error', () => {}); // a reset counts as closed
    s.on('close', () => resolve(Date.now() - t));
    setTimeout(() => {
      s.destroy();
      reject(new Error(`connection from ${from} still open after 5 s`));
    }, 5000);
  });
}

describe('a flood of strangers', () => {
  it('closes 1,000 connections from unconfigured addresses at once, logs a few lines, keeps the session on time', async () => {
    const l = await startLab(add, HOST, [{ address: PEER, 'remote-as': 65720, 'hold-time': 3, ...OPEN_POLICY }]);
    const peer = await l.peer(PEER, 65720);
    expect(l.speaker.neighbors.get(PEER)!.session!.holdTime).toBe(3);
    const before = peer.received.filter((m) => m.type === MessageType.KEEPALIVE).length;
    // The peer keeps its side of the session alive, as a router would.
    const alive = setInterval(() => peer.sendKeepalive(), 1000);
    add(() => clearInterval(alive));
    const t0 = Date.now();
    const closed: number[] = [];
    // 1,000 connections, 50 at a time, from 250 addresses of 127.0.73.0/24.
    for (let i = 0; i < 1000; i += 50) {
      closed.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => knock(l.port, `127.0.73.${((i + j) % 250) + 1}`)))));
    }
    const seconds = (Date.now() - t0) / 1000;
    // Watch the session over at least four seconds from the start of the flood.
    await sleep(Math.max(1200, 4000 - (Date.now() - t0)));
    const window = (Date.now() - t0) / 1000;
    expect(closed).toHaveLength(1000);
    expect(Math.max(...closed)).toBeLessThan(2000);
    // Keepalives kept coming at about a third of the hold time: nothing waited behind the flood.
    const keepalives = peer.received.filter((m) => m.type === MessageType.KEEPALIVE);
    expect(keepalives.length - before).toBeGreaterThanOrEqual(Math.floor(window / 1.5));
    const gaps = keepalives.slice(1).map((m, i) => m.at - keepalives[i].at);
    expect(Math.max(...gaps)).toBeLessThan(3000);
    expect(l.state(PEER)).toBe(State.Established);
    // The log: one line per second at most, the rest counted.
    const refused = logLines.filter((x) => x.includes('refused: not a configured neighbor'));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    if (refused.length > 1) expect(refused.at(-1)).toMatch(/\(and \d+ more since the last line\)/);
  });
});

describe('a flood of bad OPENs', () => {
  it('1,000 connections with a wrong AS from a configured address: each closed at once, the first with Bad Peer AS; the log stays small; others unharmed', async () => {
    const BAD = '127.0.72.3';
    const l = await startLab(add, HOST, [
      { address: PEER, 'remote-as': 65720, 'hold-time': 3, ...OPEN_POLICY },
      { address: BAD, 'remote-as': 65721, ...OPEN_POLICY },
    ]);
    const peer = await l.peer(PEER, 65720);
    const alive = setInterval(() => peer.sendKeepalive(), 1000);
    add(() => clearInterval(alive));
    const mark = logLines.length;
    const t0 = Date.now();
    const answers: string[] = [];
    for (let i = 0; i < 1000; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const p = await l.connect(BAD, 65999);
          const got = await Promise.race([p.notification().then((n) => `${n.code}/${n.subcode}`), p.waitClosed().then(() => 'closed')]).catch(() => 'open');
          answers.push(got);
          p.close();
        }),
      );
    }
    await sleep(Math.max(0, 4000 - (Date.now() - t0)));
    expect(answers).toHaveLength(1000);
    expect(answers.filter((a) => a === 'open')).toEqual([]);
    expect(answers).toContain('2/2'); // OPEN Message Error / Bad Peer AS
    expect(l.state(PEER)).toBe(State.Established);
    const keepalives = peer.received.filter((m) => m.type === MessageType.KEEPALIVE && m.at >= t0);
    expect(keepalives.length).toBeGreaterThanOrEqual(2);
    const lines = logLines.slice(mark).filter((x) => x.includes(BAD));
    // The first gets its NOTIFICATION; the neighbor then waits out its idle hold and closes the
    // rest unheard, without a line each.
    expect(lines.length).toBeLessThan(20);
  });
});
