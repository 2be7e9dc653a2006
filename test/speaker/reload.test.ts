// Configuration reload (src/speaker/reload.ts) on a running speaker configured from a TOML
// file, with scripted peers: a neighbor added comes up, one removed gets Cease / Peer
// De-configured and its routes leave the RIB and the receivers, a changed import policy is
// applied through ROUTE-REFRESH on the same connection (or an Administrative Reset without
// route refresh), a changed export policy through a soft reset out, a change the OPEN carries
// through Cease / Other Configuration Change; the sessions not touched see nothing at all. A
// bad file, or a change that cannot apply while running, is refused with the field named.
import { stringify } from 'smol-toml';
import { beforeAll, describe, expect, it } from 'vitest';
import { RibView } from '../../src/api/ribView.js';
import { State } from '../../src/neighbor/fsm.js';
import { CapabilityCode, CeaseSubcode, decodeRouteRefresh, MessageType, type Capability } from '../../src/packet/index.js';
import { Reloader, type ReloadReport } from '../../src/speaker/reload.js';
import type { Speaker } from '../../src/speaker/speaker.js';
import { startFromFile } from '../helpers/configFile.js';
import { announce, attrs, OPEN_POLICY, Table, useCleanup } from '../helpers/lab.js';
import { captureLog, defaultCaps, RawPeer, sleep, until } from '../helpers/rawPeer.js';

const HOST = '127.0.47.1';
const GONE = '127.0.47.2'; // removed by the reload, AS 65472
const POLICY = '127.0.47.3'; // its import policy changes, AS 65473
const SINK = '127.0.47.4'; // untouched receiver, AS 65474
const STILL = '127.0.47.5'; // untouched sender, AS 65475
const NEW = '127.0.47.6'; // added by the reload, AS 65476
const AS: Record<string, number> = { [GONE]: 65472, [POLICY]: 65473, [SINK]: 65474, [STILL]: 65475, [NEW]: 65476 };

const add = useCleanup();
let log: string[] = [];
beforeAll(() => {
  log = captureLog();
});
/** Log lines from index `from` on, without their timestamp. */
const linesSince = (from: number) => log.slice(from).map((l) => l.slice(l.indexOf(' ') + 1));

const neighbor = (address: string, more: Record<string, unknown> = {}) => ({ address, 'remote-as': AS[address], passive: true, ...OPEN_POLICY, ...more });
/** Refuses 10.47.33.0/24, accepts the rest. */
const REJECT_33 = { 'import-policy': undefined, import: { default: 'accept', rules: [{ prefixes: ['10.47.33.0/24'], action: 'reject' }] } };

interface Running {
  speaker: Speaker;
  reloader: Reloader;
  rib: RibView;
  /** Writes the file again with these neighbors (and global changes) and reloads. */
  reload(neighbors: unknown[], global?: Record<string, unknown>): Promise<ReloadReport>;
  write(text: string): void;
  peer(addr: string, caps?: Capability[]): Promise<RawPeer>;
}

async function run(neighbors: unknown[]): Promise<Running> {
  const { speaker, file, port, write } = await startFromFile(add, HOST, neighbors);
  const reloader = new Reloader(speaker, file);
  return {
    speaker,
    reloader,
    rib: new RibView(speaker),
    write: (text) => write(text),
    reload(ns, global) {
      write(ns, global);
      return reloader.reload();
    },
    async peer(addr, caps = defaultCaps(AS[addr])) {
      const p = await RawPeer.connect(HOST, port, addr);
      add(() => p.close());
      p.sendOpen(AS[addr], 90, addr, caps);
      await p.waitFor(MessageType.OPEN);
      p.sendKeepalive();
      await until(() => speaker.neighbors.get(addr)?.state === State.Established, 3000, `${addr} Established`);
      return p;
    },
  };
}

const notifications = (p: RawPeer) => p.received.filter((m) => m.type === MessageType.NOTIFICATION);
const held = (r: Running, prefix: string) => r.rib.lookup(prefix, 'exact').routes.flatMap((x) => x.paths.map((p) => p.fromPeer));

describe('configuration reload', () => {
  it('adds, removes and re-imports; untouched sessions see nothing', async () => {
    const r = await run([neighbor(GONE), neighbor(POLICY), neighbor(SINK), neighbor(STILL)]);
    const sink = new Table(await r.peer(SINK));
    const gone = await r.peer(GONE);
    const policy = await r.peer(POLICY);
    const still = await r.peer(STILL);
    gone.send(announce(attrs([65472]), ['10.47.2.0/24']));
    policy.send(announce(attrs([65473]), ['10.47.3.0/24', '10.47.33.0/24']));
    still.send(announce(attrs([65475]), ['10.47.5.0/24']));
    await until(() => sink.size === 4, 5000, 'four routes at the sink');
    const sinkUpdates = sink.updates;
    const stillReceived = still.received.length;
    const l0 = log.length;

    const report = await r.reload([neighbor(POLICY, REJECT_33), neighbor(SINK), neighbor(STILL), neighbor(NEW)]);
    expect(report).toEqual({ added: [NEW], removed: [GONE], reset: [], softReset: [POLICY], inPlace: [], unchanged: [SINK, STILL] });
    const lines = linesSince(l0);
    expect(lines.find((l) => l.includes(GONE) && l.startsWith('reload:'))).toMatch(/removed: Cease \/ Peer De-configured/);
    expect(lines.find((l) => l.includes(POLICY) && l.startsWith('reload:'))).toMatch(/import-policy changed: ROUTE-REFRESH sent for ipv4-unicast \(soft reset in\)/);
    expect(lines.find((l) => l.includes(NEW) && l.startsWith('reload:'))).toMatch(/added/);
    expect(lines).toContain('reload: 1 added, 1 removed, 0 reset, 1 soft reset, 0 changed in place, 2 unchanged');

    // Removed: Cease / Peer De-configured, its route gone from the RIB and from the receiver.
    const n = await gone.notification();
    expect([n.code, n.subcode]).toEqual([6, CeaseSubcode.PeerDeconfigured]);
    await gone.waitClosed();
    expect(r.speaker.neighbors.has(GONE)).toBe(false);
    expect(held(r, '10.47.2.0/24')).toEqual([]);
    await until(() => !sink.has('10.47.2.0/24'), 5000, 'the removed neighbor\'s route withdrawn at the sink');

    // Import policy changed: the same connection asked for its table again, nothing else.
    const rr = await policy.waitFor(MessageType.ROUTE_REFRESH);
    expect(decodeRouteRefresh(rr.bytes)).toMatchObject({ afi: 1, safi: 1, subtype: 0 });
    policy.send(announce(attrs([65473]), ['10.47.3.0/24', '10.47.33.0/24']));
    await until(() => !sink.has('10.47.33.0/24'), 5000, 'the prefix the new policy refuses, withdrawn at the sink');
    expect(held(r, '10.47.33.0/24')).toEqual([]);
    expect(held(r, '10.47.3.0/24')).toEqual([POLICY]);
    expect(notifications(policy)).toEqual([]);
    expect(policy.closed).toBe(false);
    expect(r.speaker.neighbors.get(POLICY)!.state).toBe(State.Established);
    expect(r.speaker.neighbors.get(POLICY)!.establishedCount).toBe(1);

    // Added: it comes up, sends a route that reaches the sink, and is sent the table.
    const fresh = await r.peer(NEW);
    const freshTable = new Table(fresh);
    fresh.send(announce(attrs([65476]), ['10.47.6.0/24']));
    await until(() => sink.has('10.47.6.0/24'), 5000, 'the added neighbor\'s route at the sink');
    await until(() => freshTable.has('10.47.5.0/24') && freshTable.has('10.47.3.0/24'), 5000, 'the table at the added neighbor');
    expect(freshTable.has('10.47.33.0/24')).toBe(false);

    // Untouched: Established all along, no NOTIFICATION, and no churn of their routes.
    for (const [addr, p] of [[SINK, sink.peer], [STILL, still]] as const) {
      expect(r.speaker.neighbors.get(addr)!.state).toBe(State.Established);
      expect(r.speaker.neighbors.get(addr)!.establishedCount).toBe(1);
      expect(notifications(p)).toEqual([]);
      expect(p.closed).toBe(false);
    }
    expect(sink.changes.get('10.47.5.0/24')).toBe(1);
    expect(sink.changes.get('10.47.3.0/24')).toBe(1);
    // The sink was sent the withdrawals of 10.47.2.0/24 and 10.47.33.0/24 and the new route, nothing more.
    expect(sink.sync().updates - sinkUpdates).toBeLessThanOrEqual(3);
    // The untouched sender was sent the withdrawals and the new route only: no ROUTE-REFRESH, no table again.
    expect(still.received.slice(stillReceived).every((m) => m.type === MessageType.UPDATE || m.type === MessageType.KEEPALIVE)).toBe(true);
  });

  it('soft resets out on an export policy change, resets on an OPEN change, and without route refresh', async () => {
    const r = await run([neighbor(POLICY), neighbor(SINK), neighbor(STILL)]);
    const sink = new Table(await r.peer(SINK));
    const noRefresh = defaultCaps(AS[POLICY]).filter((c) => c.code !== CapabilityCode.RouteRefresh);
    const policy = await r.peer(POLICY, noRefresh);
    const still = await r.peer(STILL);
    still.send(announce(attrs([65475]), ['10.47.5.0/24', '10.47.55.0/24']));
    await until(() => sink.size === 2, 5000, 'two routes at the sink');
    const l0 = log.length;

    const exportRule = { 'export-policy': undefined, export: { default: 'accept', rules: [{ prefixes: ['10.47.55.0/24'], action: 'reject' }] } };
    const report = await r.reload([neighbor(POLICY, REJECT_33), neighbor(SINK, exportRule), neighbor(STILL, { 'hold-time': 30 })]);
    expect(report).toMatchObject({ added: [], removed: [], reset: [POLICY, STILL], softReset: [SINK], unchanged: [] });
    const lines = linesSince(l0).filter((l) => l.startsWith('reload:'));
    expect(lines.find((l) => l.includes(POLICY))).toMatch(/the peer did not announce route refresh: session reset \(Cease \/ Administrative Reset\)/);
    expect(lines.find((l) => l.includes(STILL))).toMatch(/hold-time changed: session reset \(Cease \/ Other Configuration Change\)/);
    expect(lines.find((l) => l.includes(SINK))).toMatch(/export-policy changed: Adj-RIB-Out recomputed and sent again \(soft reset out\)/);

    // Export policy: the refused prefix withdrawn, the session kept.
    // (10.47.5.0/24 goes too, with STILL's reset in the same reload: before, with or after it.)
    await until(() => !sink.has('10.47.55.0/24'), 5000, 'the prefix the new export policy refuses, withdrawn');
    expect(notifications(sink.peer)).toEqual([]);
    expect(r.speaker.neighbors.get(SINK)!.establishedCount).toBe(1);
    // Without route refresh: Administrative Reset. A new hold time: Other Configuration Change.
    const a = await policy.notification();
    expect([a.code, a.subcode]).toEqual([6, CeaseSubcode.AdministrativeReset]);
    const o = await still.notification();
    expect([o.code, o.subcode]).toEqual([6, CeaseSubcode.OtherConfigurationChange]);
    // Its routes leave with the session; it comes back with the new OPEN (hold time 30).
    await until(() => !sink.has('10.47.5.0/24'), 5000, 'the reset neighbor\'s routes withdrawn');
    // What the sink is counted as holding from us followed the new rules and the withdrawals.
    expect(r.speaker.advertisedPrefixes(r.speaker.neighbors.get(SINK)!)).toBe(sink.size);
    await sleep(50);
    const again = await RawPeer.connect(HOST, Number(r.speaker.config.global.listen[0].port), STILL);
    add(() => again.close());
    again.sendOpen(65475, 90, STILL, defaultCaps(65475));
    const open = await again.waitFor(MessageType.OPEN);
    expect(new DataView(open.bytes.buffer, open.bytes.byteOffset).getUint16(19 + 3)).toBe(30);
    // Both prefixes again: the sink's new export policy lets one through.
    again.sendKeepalive();
    await until(() => r.speaker.neighbors.get(STILL)!.state === State.Established, 5000, 'STILL back');
    again.send(announce(attrs([65475]), ['10.47.5.0/24', '10.47.55.0/24']));
    await until(() => sink.has('10.47.5.0/24'), 5000, 'the accepted prefix at the sink');
    await sleep(200);
    expect(sink.has('10.47.55.0/24')).toBe(false);
  });

  it('refuses a bad file or a fixed setting, naming the field; nothing changes', async () => {
    const r = await run([neighbor(SINK), neighbor(STILL)]);
    const sink = await r.peer(SINK);
    const still = await r.peer(STILL);
    const before = r.speaker.config;
    const l0 = log.length;

    r.write(stringify({ global: { asn: 65000, 'router-id': '10.0.0.1' }, neighbors: [{ ...neighbor(SINK), 'hold-time': 2 }] }));
    const bad = await r.reloader.reload();
    expect(bad).toMatchObject({ added: [], removed: [], reset: [], softReset: [], unchanged: [], field: 'neighbors[0].hold-time' });
    expect(bad.error).toBe('neighbors[0].hold-time: expected 0 or an integer from 3 to 65535 seconds, got 2');

    const fixed = await r.reload([neighbor(SINK)], { 'router-id': '10.0.0.2' });
    expect(fixed.field).toBe('global.router-id');
    expect(fixed.error).toMatch(/^global\.router-id: cannot change while running \("10\.0\.0\.1" -> "10\.0\.0\.2"\)/);

    r.write('[global\nasn = 1');
    const toml = await r.reloader.reload();
    expect(toml.error).toMatch(/valid TOML/);

    const flagsOnly = await new Reloader(r.speaker, null).reload();
    expect(flagsOnly.field).toBe('config');
    expect(flagsOnly.error).toMatch(/no configuration file to read again/);

    expect(linesSince(l0).filter((l) => l.startsWith('reload refused: '))).toHaveLength(4);
    expect(linesSince(l0).some((l) => l.startsWith('reload: '))).toBe(false);
    await sleep(200);
    expect(r.speaker.config).toBe(before);
    expect([...r.speaker.neighbors.keys()]).toEqual([SINK, STILL]);
    for (const p of [sink, still]) {
      expect(notifications(p)).toEqual([]);
      expect(p.closed).toBe(false);
    }
  });

  it('gives a removed neighbor\'s RIB index to the next one added, clean', async () => {
    const r = await run([neighbor(GONE), neighbor(SINK)]);
    const sink = new Table(await r.peer(SINK));
    const gone = await r.peer(GONE);
    gone.send(announce(attrs([65472]), ['10.47.2.0/24', '10.47.22.0/24']));
    await until(() => sink.size === 2, 5000, 'two routes at the sink');
    const index = r.speaker.peerIndex(r.speaker.neighbors.get(GONE)!);
    expect((await r.reload([neighbor(SINK)])).removed).toEqual([GONE]);
    await until(() => sink.size === 0, 5000, 'its routes withdrawn at the sink');
    expect((await r.reload([neighbor(SINK), neighbor(NEW)])).added).toEqual([NEW]);
    expect(r.speaker.peerIndex(r.speaker.neighbors.get(NEW)!)).toBe(index);
    const fresh = await r.peer(NEW);
    fresh.send(announce(attrs([65476]), ['10.47.6.0/24']));
    await until(() => sink.has('10.47.6.0/24'), 5000, 'the new neighbor\'s route');
    expect(held(r, '10.47.2.0/24')).toEqual([]);
    expect(held(r, '10.47.6.0/24')).toEqual([NEW]);
    expect(r.speaker.receivedPaths(r.speaker.neighbors.get(NEW)!)).toBe(1);
    expect(sink.has('10.47.2.0/24')).toBe(false);
  });
});
