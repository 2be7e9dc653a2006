// Per-neighbor max-prefix (README `[neighbors.max-prefix]`: limit, action warn | block |
// restart | disable, restart-after, warn-pct). restart and disable end the session with
// Cease / Maximum Number of Prefixes Reached (RFC 4486 §4, subcode 1); restart brings it back
// after restart-after seconds, disable keeps it down.
import { beforeAll, describe, expect, it } from 'vitest';
import { State } from '../../src/neighbor/fsm.js';
import { MessageType } from '../../src/packet/index.js';
import { captureLog, defaultCaps, sleep, until } from '../helpers/rawPeer.js';
import { announce, attrs, OPEN_POLICY, peerListener, startLab, Table, useCleanup, withdraw } from '../helpers/lab.js';

const RS = '127.0.41.1';
const P = '127.0.41.2'; // the limited neighbor, AS 65412
const SINK = '127.0.41.9'; // receives what ribstorm advertises, AS 65419
const add = useCleanup();
let log: string[] = [];
beforeAll(() => {
  log = captureLog();
});

const sinkNeighbor = { address: SINK, 'remote-as': 65419, ...OPEN_POLICY };
const limited = (maxPrefix: Record<string, unknown>, more: Record<string, unknown> = {}) => ({ address: P, 'remote-as': 65412, ...OPEN_POLICY, 'max-prefix': { limit: 3, ...maxPrefix }, ...more });
const linesFor = (from: number) => log.slice(from).filter((l) => l.includes(P));

describe('max-prefix', () => {
  it('warn: logs when the share and the limit are passed, keeps the session and every route', async () => {
    const lab = await startLab(add, RS, [limited({ action: 'warn', 'warn-pct': 50 }), sinkNeighbor]);
    const sink = new Table(await lab.peer(SINK, 65419));
    const p = await lab.peer(P, 65412);
    const l0 = log.length;
    p.send(announce(attrs([65412]), ['10.41.1.0/24']));
    await until(() => sink.has('10.41.1.0/24'), 5000, 'the first route');
    expect(linesFor(l0)).toEqual([]); // 1 of 3: under 50%
    p.send(announce(attrs([65412]), ['10.41.2.0/24']));
    await until(() => linesFor(l0).length > 0, 5000, 'the warn-pct line');
    expect(linesFor(l0).join('\n')).toMatch(/2 prefixes, 50% of max-prefix 3/);
    const l1 = log.length;
    p.send(announce(attrs([65412]), ['10.41.3.0/24', '10.41.4.0/24', '10.41.5.0/24']));
    await until(() => sink.size === 5, 5000, 'all five routes at the sink');
    await sleep(200);
    // Over the limit: still up, everything kept, and the operator is told the limit was passed.
    expect(lab.state(P)).toBe(State.Established);
    expect(p.received.some((m) => m.type === MessageType.NOTIFICATION)).toBe(false);
    expect(lab.speaker.receivedPaths(lab.speaker.neighbors.get(P)!)).toBe(5);
    expect(linesFor(l1).join('\n'), 'a log line saying the limit of 3 was exceeded').toMatch(/max-prefix 3 exceeded/);
  });

  it('block: ignores further announcements, keeps the session, and still applies withdrawals', async () => {
    const lab = await startLab(add, RS, [limited({ action: 'block' }), sinkNeighbor]);
    const sink = new Table(await lab.peer(SINK, 65419));
    const p = await lab.peer(P, 65412);
    p.send(announce(attrs([65412]), ['10.41.1.0/24', '10.41.2.0/24', '10.41.3.0/24']));
    await until(() => sink.size === 3, 5000, 'three routes: at the limit');
    p.send(announce(attrs([65412]), ['10.41.4.0/24'])); // the one that would pass the limit
    await until(() => log.some((l) => l.includes(P) && l.includes('max-prefix 3 exceeded')), 5000, 'the block log line');
    p.send(announce(attrs([65412]), ['10.41.5.0/24'])); // once blocked
    await sleep(300);
    expect(lab.state(P)).toBe(State.Established);
    expect(p.received.some((m) => m.type === MessageType.NOTIFICATION)).toBe(false);
    expect.soft(sink.has('10.41.5.0/24'), 'an announcement after the limit was passed').toBe(false);
    expect.soft(sink.has('10.41.4.0/24'), 'the announcement that passes the limit').toBe(false);
    expect.soft(lab.speaker.receivedPaths(lab.speaker.neighbors.get(P)!), 'paths held: no more than the limit').toBeLessThanOrEqual(3);

    // Withdrawals are not announcements: the neighbor can still take its routes back.
    p.send(withdraw(['10.41.1.0/24']));
    await until(() => !sink.has('10.41.1.0/24'), 3000, 'the withdrawal of 10.41.1.0/24 at the sink').catch(() => {});
    expect(sink.has('10.41.1.0/24'), 'a withdrawal from a blocked neighbor is applied').toBe(false);
    expect(sink.has('10.41.2.0/24')).toBe(true);
  });

  it('restart: Cease / Maximum Number of Prefixes Reached, then the session comes back after restart-after', async () => {
    // ribstorm connects out to this neighbor, so the reconnection is its own doing.
    const l = await peerListener(add, P);
    const lab = await startLab(add, RS, [
      limited({ action: 'restart', 'restart-after': 2 }, { passive: false, port: l.port, 'local-address': RS, 'idle-hold-time': 0 }),
      sinkNeighbor,
    ]);
    const sink = new Table(await lab.peer(SINK, 65419));
    const up = async () => {
      const p = await l.next();
      await p.waitFor(MessageType.OPEN);
      p.sendOpen(65412, 90, P, defaultCaps(65412));
      p.sendKeepalive();
      await until(() => lab.state(P) === State.Established, 3000, 'Established');
      return p;
    };
    const p = await up();
    p.send(announce(attrs([65412]), ['10.41.1.0/24', '10.41.2.0/24']));
    await until(() => sink.size === 2, 5000, 'two routes');
    p.send(announce(attrs([65412]), ['10.41.3.0/24', '10.41.4.0/24']));
    const n = await p.notification();
    expect([n.code, n.subcode]).toEqual([6, 1]);
    const downAt = Date.now();
    await p.waitClosed();
    await until(() => sink.size === 0, 5000, 'its routes withdrawn from the sink');
    expect(lab.state(P)).not.toBe(State.Established);

    // Back after restart-after (2 s), not before.
    const p2 = await up();
    expect(Date.now() - downAt).toBeGreaterThanOrEqual(1900);
    expect(l.accepted.length).toBe(2);
    p2.send(announce(attrs([65412]), ['10.41.7.0/24']));
    await until(() => sink.has('10.41.7.0/24'), 5000, 'a route over the new session');
  });

  it('disable: Cease / Maximum Number of Prefixes Reached, and the session stays down', async () => {
    const l = await peerListener(add, P);
    const lab = await startLab(add, RS, [
      limited({ action: 'disable' }, { passive: false, port: l.port, 'local-address': RS, 'idle-hold-time': 1, 'connect-retry': 1 }),
      sinkNeighbor,
    ]);
    const sink = new Table(await lab.peer(SINK, 65419));
    const p = await l.next();
    await p.waitFor(MessageType.OPEN);
    p.sendOpen(65412, 90, P, defaultCaps(65412));
    p.sendKeepalive();
    await until(() => lab.state(P) === State.Established, 3000, 'Established');
    p.send(announce(attrs([65412]), ['10.41.1.0/24', '10.41.2.0/24', '10.41.3.0/24', '10.41.4.0/24']));
    const n = await p.notification();
    expect([n.code, n.subcode]).toEqual([6, 1]);
    await p.waitClosed();
    // An ordinary failure would be retried after idle-hold-time (1 s); this one is not.
    await sleep(3500);
    expect(l.accepted.length).toBe(1);
    expect(lab.state(P)).toBe(State.Idle);
    expect(sink.size).toBe(0);
    expect(log.some((l) => l.includes(P) && l.includes('disabled'))).toBe(true);

    // Nor does it accept the neighbor connecting itself.
    const again = await lab.connect(P, 65412);
    await again.waitClosed(3000);
    expect(again.received.some((m) => m.type === MessageType.OPEN)).toBe(false);
    expect(lab.state(SINK)).toBe(State.Established);
  });
});
