// The bench's API clients (`ribstorm bench --api-clients`), in a process of their own so that
// they never wait behind the sink's or the senders' work (nor hold up the sink that times the
// run): the stream client subscribes, counts what arrives, and reports when asked (a high-rate
// client: a batch's messages come in one frame, one JSON text per line); the query client asks
// GET /neighbors and a longest-match GET /rib in turn, each as soon as the last was answered,
// over one kept-alive connection (httpGet.ts).
// The process leads a session of its own, which runs at the nice value it is given (the bench's
// default: 19, the lowest priority) until the run converges, as clients on another host would
// take none of the target's CPU (with the scheduler's autogroups, priority.ts, a thread of the
// bench's at nice 19 would still take the bench's whole share while the senders wait on the
// target). Then it takes back the priority it had, to catch up with the stream as such a client
// would. Where autogroups do not count, its thread runs at that nice value for the whole run,
// and it may fall behind the stream and be cut off, as reported.

import WebSocket from 'ws';
import { KeepAliveGet } from './httpGet.js';
import { lowerThreadPriority, setSessionPriority } from '../../util/priority.js';
import { percentiles } from './stats.js';

/** What the clients got: the stream's deliveries, the queries' answers. */
export interface StreamCount {
  /**
   * GET requests answered (half /neighbors, half /rib); how many a second until the run
   * converged (afterwards the stream's trail takes the client's thread); failed; the slowest, ms.
   */
  queries: number;
  queriesPerSecond: number;
  queryErrors: number;
  slowestQueryMs: number;
  /** UPDATE messages, and the prefixes they announced. */
  streamUpdates: number;
  streamPrefixes: number;
  /** The stream's ris_error, when it cut the client off (or the socket's error). */
  streamError: string | null;
  /** How long after the run converged the last frame came, ms (0: before). */
  streamTrailMs: number;
  /**
   * After 'mark' (the latency churn): from each UPDATE's `timestamp` (when ribstorm took its
   * batch in) to its arrival here, ms: median, 99th percentile, most, and how many.
   */
  streamDelay?: { p50: number; p99: number; max: number; updates: number };
}

/** Nothing got yet. */
export function emptyCount(): StreamCount {
  return { queries: 0, queriesPerSecond: 0, queryErrors: 0, slowestQueryMs: 0, streamUpdates: 0, streamPrefixes: 0, streamError: null, streamTrailMs: 0 };
}

export interface StreamClientData {
  kind: 'ribstorm-stream-client';
  url: string;
  /** The ris_subscribe's data. */
  subscribe: Record<string, unknown>;
  /** With the query client: its base URL ("http://ADDR:PORT") and the addresses it looks up. */
  queries?: { base: string; lookups: string[] };
  /** The process's nice value (0: the bench's own priority). */
  nice: number;
}

const RIS_MESSAGE = Buffer.from('{"type":"ris_message","data":{');
const RIS_ERROR = Buffer.from('{"type":"ris_error"');
/** The envelope's type follows peer, peer_asn, id and host: the first `,"type":"` inside `data`. */
const TYPE_FIELD = Buffer.from(',"type":"');
const UPDATE = Buffer.from('UPDATE"');
const PREFIXES = Buffer.from('"prefixes":[');
const TIMESTAMP = Buffer.from('"timestamp":');

/** Each UPDATE line's `timestamp` (seconds since the epoch) in a frame, to `fn`. */
export function frameTimestamps(frame: Buffer, fn: (seconds: number) => void): void {
  for (let at = frame.indexOf(TIMESTAMP); at >= 0; at = frame.indexOf(TIMESTAMP, at + 1)) {
    let end = at + TIMESTAMP.length;
    while (end < frame.length && ((frame[end] >= 0x30 && frame[end] <= 0x39) || frame[end] === 0x2e)) end++;
    fn(Number(frame.toString('latin1', at + TIMESTAMP.length, end)));
  }
}

function startsWith(b: Buffer, what: Buffer, at = 0): boolean {
  if (at + what.length > b.length) return false;
  for (let i = 0; i < what.length; i++) if (b[at + i] !== what[i]) return false;
  return true;
}

/**
 * Counts one frame's UPDATEs and the prefixes they announce into `r` (and its ris_error): a
 * batch's messages, one JSON text per line. Like a consumer that only counts, it reads what it
 * needs of each line from the bytes (the envelope's type, each announcement's prefixes)
 * instead of parsing the whole message.
 */
export function readStreamFrame(frame: Buffer, r: Pick<StreamCount, 'streamUpdates' | 'streamPrefixes' | 'streamError'>): void {
  // Where the next announcement's prefixes are, searched once for the whole frame.
  let prefixesAt = -1;
  for (let start = 0; start < frame.length; ) {
    let end = frame.indexOf(0x0a, start);
    if (end < 0) end = frame.length;
    const line = start;
    start = end + 1;
    if (startsWith(frame, RIS_ERROR, line)) r.streamError = (JSON.parse(frame.toString('utf8', line, end)) as { data?: { message?: string } }).data?.message ?? 'ris_error';
    if (!startsWith(frame, RIS_MESSAGE, line)) continue;
    const type = frame.indexOf(TYPE_FIELD, line + RIS_MESSAGE.length);
    if (type < 0 || type > end || !startsWith(frame, UPDATE, type + TYPE_FIELD.length)) continue;
    r.streamUpdates++;
    if (prefixesAt < line) {
      prefixesAt = frame.indexOf(PREFIXES, type);
      if (prefixesAt < 0) prefixesAt = frame.length;
    }
    while (prefixesAt < end) {
      // Prefixes are JSON strings without quotes inside: two quotes each, up to the "]".
      let quotes = 0;
      let at = prefixesAt + PREFIXES.length;
      for (; at < end && frame[at] !== 0x5d; at++) if (frame[at] === 0x22) quotes++;
      r.streamPrefixes += quotes >> 1;
      prefixesAt = frame.indexOf(PREFIXES, at);
      if (prefixesAt < 0) prefixesAt = frame.length;
    }
  }
}


/** The process: subscribes, sends 'subscribed' (or 'failed'), counts; on {settle}, {mark} and {stop} does as startApiLoad's ApiLoad says and answers. */
function run(d: StreamClientData): void {
  // The session's nice value (a new session's starts at 0); where autogroups do not count, the thread's, for the whole run.
  const lowered = d.nice > 0 && setSessionPriority(d.nice) === d.nice;
  if (d.nice > 0 && !lowered) lowerThreadPriority(d.nice);
  // The bench gone (its channel closed), the clients go too.
  process.on('disconnect', () => process.exit(0));
  const port = { postMessage: (m: object) => process.send!(m) };
  const r = emptyCount();
  let querying = d.queries !== undefined;
  // Times since the epoch: this process's performance.now() starts at its own origin.
  const now = () => performance.timeOrigin + performance.now();
  // When the loop started and each answer came, ms since the epoch (now()).
  let loopFrom = 0;
  const answeredAt: number[] = [];
  const loop = (async () => {
    if (!querying) return;
    const { base, lookups } = d.queries!;
    const url = new URL(base);
    const http = new KeepAliveGet(url.hostname, Number(url.port));
    loopFrom = now();
    for (let i = 0; querying; i++) {
      const path = i % 2 === 0 ? '/neighbors' : `/rib?prefix=${encodeURIComponent(lookups[(i >> 1) % lookups.length] ?? '10.0.0.1')}&match=longest`;
      const t = performance.now();
      try {
        const { status } = await http.get(path);
        if (status !== 200) r.queryErrors++;
      } catch {
        r.queryErrors++;
        // The server gone or not answering: not asked again at once.
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      r.queries++;
      answeredAt.push(now());
      r.slowestQueryMs = Math.max(r.slowestQueryMs, Math.round(performance.now() - t));
    }
    http.close();
  })();
  let lastAt = now();
  let subscribed = false;
  let delays: number[] | undefined;
  const ws = new WebSocket(d.url);
  ws.on('open', () => ws.send(JSON.stringify({ type: 'ris_subscribe', data: d.subscribe })));
  ws.on('message', (frame: Buffer) => {
    if (!subscribed) {
      subscribed = true;
      port.postMessage({ type: 'subscribed' });
    }
    readStreamFrame(frame, r);
    lastAt = now();
    if (delays) frameTimestamps(frame, (ts) => delays!.push(lastAt - ts * 1000));
  });
  ws.on('error', (e) => {
    r.streamError ??= e.message;
    if (!subscribed) port.postMessage({ type: 'failed', message: e.message });
  });
  process.on('message', async (m: { settle?: true; mark?: true; stop?: true; expectPrefixes: number; wait: boolean; convergedAt: number }) => {
    if (m.mark) {
      delays = [];
      return;
    }
    if (m.settle) {
      // The stream trails the sink: the events' thread yields to the RIB's.
      querying = false;
      if (lowered) setSessionPriority(0);
      await loop;
      while (m.wait && r.streamPrefixes < m.expectPrefixes && !r.streamError && now() - lastAt < 5000) await new Promise((res) => setTimeout(res, 50));
      r.streamTrailMs = Math.max(0, Math.round(lastAt - m.convergedAt));
      const before = answeredAt.filter((t) => t <= m.convergedAt).length;
      r.queriesPerSecond = m.convergedAt > loopFrom && loopFrom > 0 ? Math.round((before * 1000) / (m.convergedAt - loopFrom)) : 0;
      port.postMessage({ type: 'settled' });
      return;
    }
    if (delays?.length) {
      // The last UPDATEs of the phase have come once the stream is quiet for a second.
      while (now() - lastAt < 1000) await new Promise((res) => setTimeout(res, 100));
      const { p50Ms, p99Ms, maxMs } = percentiles(delays);
      r.streamDelay = { p50: p50Ms, p99: p99Ms, max: maxMs, updates: delays.length };
    }
    ws.terminate();
    port.postMessage({ type: 'count', count: r });
  });
}

/** The data the bench starts the process with (startApiLoad), as its one argument. */
const started = process.send && process.argv[2]?.startsWith('{') ? (JSON.parse(process.argv[2]) as StreamClientData) : undefined;
if (started?.kind === 'ribstorm-stream-client') run(started);
