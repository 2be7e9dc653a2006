// A reload that changes the import policy towards a real BIRD 2: ribstorm sends ROUTE-REFRESH
// (RFC 2918) for each family, BIRD sends its routes again, and ribstorm's RIB holds what the
// new policy accepts, with the session never reset on either side. Skipped, with the reason on
// stderr, when BIRD is not installed; a BIRD that fails to start fails the test.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { RibView } from '../../src/api/ribView.js';
import * as bird from '../../src/harness/daemons/bird.js';
import { State } from '../../src/neighbor/fsm.js';
import { Reloader } from '../../src/speaker/reload.js';
import { startFromFile } from '../helpers/configFile.js';
import { freePort, reportSkipped } from '../helpers/env.js';
import { OPEN_POLICY, useCleanup } from '../helpers/lab.js';
import { captureLog, until } from '../helpers/rawPeer.js';

const RIBSTORM = '127.0.47.21';
const BIRD = '127.0.47.20'; // AS 65480
const add = useCleanup();
const why = bird.unavailable();
reportSkipped('reload interop', why ? [`BIRD: ${why}`] : []);
let log: string[] = [];
beforeAll(() => {
  log = captureLog();
});

describe('reload against BIRD', () => {
  it.skipIf(why !== null)('a changed import policy: ROUTE-REFRESH, BIRD sends its routes again, the session stays', async () => {
    const ribstormPort = await freePort(RIBSTORM);
    const birdPort = await freePort(BIRD);
    const d = bird.create(
      {
        runDir: mkdtempSync(join(tmpdir(), 'ribstorm-reload-bird-')),
        address: BIRD,
        port: birdPort,
        asn: 65480,
        routerId: '10.48.0.20',
        peer: { address: RIBSTORM, port: ribstormPort, asn: 65000, passive: true, holdTime: 30 },
      },
      { extraConfig: 'protocol static announce4 {\n  ipv4;\n  route 10.48.1.0/24 blackhole;\n  route 10.48.2.0/24 blackhole;\n}\n' },
    );
    add(() => d.stop());
    await d.start();

    const neighbor = (more: Record<string, unknown> = {}) => ({ address: BIRD, 'remote-as': 65480, port: birdPort, 'connect-retry': 2, 'idle-hold-time': 1, 'hold-time': 30, ...OPEN_POLICY, ...more });
    const l = await startFromFile(add, RIBSTORM, [neighbor()], ribstormPort);
    const n = l.speaker.neighbors.get(BIRD)!;
    await until(() => n.state === State.Established, 30_000, 'BIRD Established');
    await until(() => l.speaker.receivedPaths(n) === 2, 20_000, 'both routes from BIRD');

    l.write([neighbor({ 'import-policy': undefined, import: { default: 'accept', rules: [{ prefixes: ['10.48.2.0/24'], action: 'reject' }] } })]);
    const l0 = log.length;
    const report = await new Reloader(l.speaker, l.file).reload();
    expect(report).toMatchObject({ softReset: [BIRD], reset: [], added: [], removed: [] });
    expect(log.slice(l0).join('\n')).toMatch(/import-policy changed: ROUTE-REFRESH sent for ipv4-unicast ipv6-unicast \(soft reset in\)/);

    // BIRD answered with its table; the new policy keeps 10.48.2.0/24 out.
    const rib = new RibView(l.speaker);
    await until(() => l.speaker.receivedPaths(n) === 1, 20_000, 'the refused route gone from the RIB');
    expect(rib.lookup('10.48.2.0/24', 'exact').routes).toEqual([]);
    expect(rib.lookup('10.48.1.0/24', 'exact').routes.flatMap((r) => r.paths.map((p) => p.fromPeer))).toEqual([BIRD]);
    expect(n.sent.refresh).toBe(2);
    expect(n.received.update).toBeGreaterThan(0);
    // One session from start to end, on both sides.
    expect(n.establishedCount).toBe(1);
    expect(n.sent.notification + n.received.notification).toBe(0);
    const s = await d.session();
    expect(s.established).toBe(true);
    expect(s.lastError).toBe('');
  });
});
