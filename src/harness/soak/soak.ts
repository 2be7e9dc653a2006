// The soak: ribstorm (`ribstorm run` as a child process, the API on) holding N full tables for
// a long while under churn, watched from outside. One sender replays a real update trace in a
// loop; the others take turns flapping their session (Cease, reconnect, the whole table again).
// Sampled every few seconds: resident memory (/proc), handles and timers (the API's /metrics),
// prefixes at the receiver. At the end, with every session up again and the receiver quiet, the
// Loc-RIB and the receiver's table are compared with the reference RIB (check.ts).

import { procStatus } from '../daemons/procfs.js';
import { freePort } from '../daemons/proc.js';
import { createTarget } from '../bench/targets/index.js';
import type { Layout } from '../bench/convergence.js';
import { LoadPeer } from '../loadgen/peer.js';
import type { Trace } from '../loadgen/replay.js';
import { generateTable, type EncodedTable } from '../tablegen/index.js';
import { compareLocRib, compareSink, fetchLocRib, referenceLocRib, type Comparison, type SenderHistory } from './check.js';
import { SinkTable } from './sinkTable.js';

export interface SoakOptions {
  seconds: number;
  /** Sending peers, at least 2: the first replays the trace, the others flap in turn. */
  peers: number;
  /** IPv4 prefixes in each sender's table. */
  prefixes: number;
  /** A real update trace the first sender replays in a loop, at `speed` times its pace. */
  trace?: Trace;
  speed?: number;
  /** Seconds between two flaps. */
  flapEvery: number;
  /** Seconds between two samples. */
  sampleEvery?: number;
  workers?: number;
  layout?: Layout;
  onProgress?: (line: string) => void;
}

export interface SoakSample {
  /** Seconds since the tables were first sent. */
  t: number;
  rssMB: number;
  handles: number;
  timers: number;
  sinkPrefixes: number;
}

export interface SoakCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface SoakReport {
  seconds: number;
  peers: number;
  prefixes: number;
  /** UPDATEs written by all senders, tables and replay. */
  updatesSent: number;
  traceUpdates: number;
  flaps: number;
  firstConvergenceSeconds: number;
  /** After the first round of flaps, when every flapping sender flapped once. */
  warm: SoakSample;
  end: SoakSample;
  maxRssAfterWarmMB: number;
  samples: SoakSample[];
  locRib: Comparison;
  sink: Comparison;
  checks: SoakCheck[];
  ok: boolean;
}

/** The soak's addresses: its own /24, apart from the bench's. */
export const SOAK_LAYOUT: Layout = {
  target: { address: '127.0.90.1', port: 0, asn: 65000 },
  sink: { address: '127.0.90.2', asn: 65001 },
  sender: (i) => ({ address: `127.0.90.${10 + i}`, asn: 65010 + i }),
};

/** RSS may grow this much between the end of warm-up and the end of the run. */
export const RSS_GROWTH_ALLOWED = 0.1;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `nodejs_active_handles_total` and the Timeout resources from ribstorm's /metrics. */
async function handles(api: string): Promise<{ handles: number; timers: number }> {
  const text = await (await fetch(`http://${api}/metrics`)).text();
  const value = (re: RegExp) => Number(text.match(re)?.[1] ?? NaN);
  return { handles: value(/^nodejs_active_handles_total (\d+)/m), timers: value(/^nodejs_active_resources\{type="Timeout"\} (\d+)/m) || 0 };
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  if (o.peers < 2) throw new Error('a soak needs at least 2 senders: one replays, the others flap');
  const layout = o.layout ?? SOAK_LAYOUT;
  const say = o.onProgress ?? (() => {});
  const { address, asn } = layout.target;
  const port = layout.target.port || (await freePort(address));
  const api = `127.0.0.1:${await freePort('127.0.0.1')}`;
  const senders = Array.from({ length: o.peers }, (_, i) => layout.sender(i));
  const tables: EncodedTable[] = senders.map((s, i) => generateTable({ seed: 1, ipv4Prefixes: o.prefixes, ipv6Prefixes: 0, variant: i, senderAs: s.asn }));
  const traceMessages = o.trace?.messages ?? [];
  const target = createTarget('ribstorm', {
    address,
    port,
    asn,
    routerId: '10.255.255.1',
    peers: [layout.sink, ...senders],
    workers: o.workers,
    // Room for every table and for everything the trace brings, each loop.
    load: { prefixes: o.prefixes + traceMessages.length, prefixes6: 0, paths: o.peers * o.prefixes + traceMessages.length, attributeSets: tables.reduce((n, t) => n + t.attributeSets, 0) + traceMessages.length },
    api: { address: '127.0.0.1', port: Number(api.split(':')[1]) },
  });
  const open = new Set<LoadPeer>();
  const connect = async (who: { address: string; asn: number }) => {
    const p = await LoadPeer.open({ host: address, port, localAddress: who.address, asn: who.asn, routerId: who.address });
    open.add(p);
    return p;
  };
  const history: SenderHistory[] = senders.map((s, i) => ({ address: s.address, asn: s.asn, sent: [tables[i].updates] }));
  const sink = new SinkTable();
  const samples: SoakSample[] = [];
  let updatesSent = 0;
  let traceUpdates = 0;
  let flaps = 0;
  try {
    await target.start();
    const sinkPeer = await connect(layout.sink);
    sinkPeer.onUpdate = (b, off, len) => sink.apply(b, off, len);
    const peers = await Promise.all(senders.map(connect));
    const t0 = performance.now();
    const sample = async (): Promise<SoakSample> => {
      const h = await handles(api);
      const s = { t: Math.round((performance.now() - t0) / 100) / 10, rssMB: Math.round(procStatus(target.pid, 'VmRSS') / 2 ** 20), ...h, sinkPrefixes: sink.routes.size };
      samples.push(s);
      return s;
    };
    // The same handles and timers seen three times over a second: the fewest is the steady count.
    const steady = async (): Promise<SoakSample> => {
      const seen = [await sample(), (await sleep(500), await sample()), (await sleep(500), await sample())];
      return seen.reduce((a, b) => (b.handles + b.timers < a.handles + a.timers ? b : a));
    };
    const sendTable = async (p: LoadPeer, i: number) => {
      await p.write(tables[i].updates);
      await p.write(tables[i].endOfRib);
      updatesSent += tables[i].messageCount;
    };
    const quiet = async (what: string, ms = 1500) => {
      const deadline = performance.now() + 120_000;
      while (performance.now() - sink.lastUpdateAt < ms) {
        if (performance.now() > deadline) throw new Error(`the receiver did not settle after ${what}`);
        await sleep(100);
      }
    };
    const held = async (n: number, what: string) => {
      const since = performance.now();
      while (sink.routes.size < n) {
        if (performance.now() - since > 300_000) throw new Error(`${what}: ${sink.routes.size} of ${n} prefixes at the receiver after 300 s`);
        await sleep(50);
      }
    };
    await Promise.all(peers.map((p, i) => sendTable(p, i)));
    await held(o.prefixes, 'first convergence');
    const firstConvergenceSeconds = (sink.lastUpdateAt - t0) / 1000;
    say(`converged: ${o.prefixes.toLocaleString('en-US')} prefixes from ${o.peers} peers at the receiver in ${firstConvergenceSeconds.toFixed(1)} s`);

    // Churn until the time is up: the trace from sender 0, flaps of the others in turn.
    const until = t0 + o.seconds * 1000;
    let stop = false;
    const replay = (async () => {
      if (!traceMessages.length) return;
      const speed = o.speed ?? 10;
      while (!stop) {
        const start = performance.now();
        for (let i = 0; i < traceMessages.length && !stop; i++) {
          const wait = start + (o.trace!.offsets[i] * 1000) / speed - performance.now();
          if (wait > 1) await sleep(Math.min(wait, 1000));
          await peers[0].write(traceMessages[i]);
          history[0].sent.push(traceMessages[i]);
          traceUpdates++;
          updatesSent++;
        }
      }
    })();
    let warm: SoakSample | null = null;
    let next = 1;
    let nextSample = performance.now();
    let nextFlap = performance.now() + o.flapEvery * 1000;
    while (performance.now() < until) {
      if (performance.now() >= nextSample) {
        const s = await sample();
        nextSample += (o.sampleEvery ?? 5) * 1000;
        say(`${s.t.toFixed(0)} s: RSS ${s.rssMB} MB, ${s.handles} handles, ${s.timers} timers, ${s.sinkPrefixes.toLocaleString('en-US')} prefixes at the receiver, ${flaps} flaps, ${traceUpdates.toLocaleString('en-US')} trace UPDATEs`);
      }
      if (performance.now() >= nextFlap) {
        const i = next;
        next = next + 1 < o.peers ? next + 1 : 1;
        peers[i].close();
        open.delete(peers[i]);
        await sleep(1000);
        peers[i] = await connect(senders[i]);
        history[i].sent = [tables[i].updates];
        await sendTable(peers[i], i);
        flaps++;
        nextFlap = performance.now() + o.flapEvery * 1000;
        // Warm once every flapping sender flapped once and the receiver holds the table again.
        if (!warm && flaps >= o.peers - 1) {
          // The trace keeps the receiver busy: the table back in full is the mark.
          await held(o.prefixes, 'the first round of flaps');
          await sleep(1000);
          warm = await steady();
          say(`warm: RSS ${warm.rssMB} MB, ${warm.handles} handles, ${warm.timers} timers`);
        }
      }
      await sleep(100);
    }
    stop = true;
    await replay;
    await quiet('the last UPDATE', 2000);
    const end = await steady();
    warm ??= end;
    say(`end: RSS ${end.rssMB} MB, ${end.handles} handles, ${end.timers} timers; comparing with the reference RIB`);
    const expected = referenceLocRib(asn, history);
    const locRib = compareLocRib(expected, await fetchLocRib(api), history);
    const sinkCmp = compareSink(expected, sink, history);
    const maxRssAfterWarmMB = Math.max(...samples.filter((s) => s.t >= warm!.t).map((s) => s.rssMB));
    const checks: SoakCheck[] = [
      { name: 'RSS flat after warm-up', ok: maxRssAfterWarmMB <= warm.rssMB * (1 + RSS_GROWTH_ALLOWED), detail: `${warm.rssMB} MB warm, at most ${maxRssAfterWarmMB} MB after, ${end.rssMB} MB at the end (allowed: +${RSS_GROWTH_ALLOWED * 100}%)` },
      { name: 'no growth in handles', ok: end.handles <= warm.handles, detail: `${warm.handles} warm, ${end.handles} at the end` },
      { name: 'no growth in timers', ok: end.timers <= warm.timers, detail: `${warm.timers} warm, ${end.timers} at the end` },
      { name: 'Loc-RIB equals the reference', ok: locRib.mismatches === 0 && locRib.held === expected.size, detail: `${locRib.held.toLocaleString('en-US')} of ${expected.size.toLocaleString('en-US')} prefixes, ${locRib.mismatches} differing${locRib.examples.length ? `: ${locRib.examples.join('; ')}` : ''}` },
      { name: 'the receiver holds the Loc-RIB', ok: sinkCmp.mismatches === 0, detail: `${sinkCmp.held.toLocaleString('en-US')} prefixes, ${sinkCmp.mismatches} differing${sinkCmp.examples.length ? `: ${sinkCmp.examples.join('; ')}` : ''}` },
      { name: 'every flap and the trace happened', ok: flaps >= o.peers - 1 && (traceMessages.length === 0 || traceUpdates > 0), detail: `${flaps} flaps, ${traceUpdates} trace UPDATEs` },
    ];
    return {
      seconds: Math.round((performance.now() - t0) / 1000),
      peers: o.peers,
      prefixes: o.prefixes,
      updatesSent,
      traceUpdates,
      flaps,
      firstConvergenceSeconds,
      warm,
      end,
      maxRssAfterWarmMB,
      samples,
      locRib,
      sink: sinkCmp,
      checks,
      ok: checks.every((c) => c.ok),
    };
  } finally {
    for (const p of open) p.close();
    await target.stop();
  }
}
