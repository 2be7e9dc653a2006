// Management-plane clients beside a convergence run (`ribstorm bench --api-clients`): one asks
// GET /neighbors and a longest-match GET /rib in a loop, the other takes the whole WS /stream
// (every UPDATE, RIS Live shape, a batch per frame). What they got is reported beside the run's time, so that the
// cost of being watched is measured, and whether the stream missed anything.

import WebSocket from 'ws';

/** Which clients run: the query loop, the stream, or both. */
export type ApiClients = 'both' | 'queries' | 'stream';

export interface ApiLoadReport {
  /** GET requests answered (half /neighbors, half /rib), and the slowest, ms. */
  queries: number;
  queryErrors: number;
  slowestQueryMs: number;
  /** UPDATE messages the stream delivered, and the prefixes they announced. */
  streamUpdates: number;
  streamPrefixes: number;
  /** The stream's ris_error, when it cut the client off. */
  streamError: string | null;
}

export interface ApiLoad {
  /** Ends the query loop; waits until the stream has `expectPrefixes` or has been quiet for five seconds. */
  stop(expectPrefixes: number): Promise<ApiLoadReport>;
}

const RIS_MESSAGE = Buffer.from('{"type":"ris_message","data":{');
const RIS_ERROR = Buffer.from('{"type":"ris_error"');
/** The envelope's type follows peer, peer_asn, id and host: the first `,"type":"` inside `data`. */
const TYPE_FIELD = Buffer.from(',"type":"');
const UPDATE = Buffer.from('UPDATE"');
const PREFIXES = Buffer.from('"prefixes":[');

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
export function readStreamFrame(frame: Buffer, r: Pick<ApiLoadReport, 'streamUpdates' | 'streamPrefixes' | 'streamError'>): void {
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

/** Starts both clients against the API at `base` ("127.0.0.1:PORT"); resolves once the stream is subscribed. */
export async function startApiLoad(base: string, which: ApiClients, lookups: string[]): Promise<ApiLoad> {
  const r: ApiLoadReport = { queries: 0, queryErrors: 0, slowestQueryMs: 0, streamUpdates: 0, streamPrefixes: 0, streamError: null };
  let lastStreamAt = performance.now();
  const ws = new WebSocket(`ws://${base}/stream`);
  // A high-rate client: a batch's messages come in one frame, one JSON text per line. Like a
  // consumer that only counts, it reads what it needs of each line from the bytes (the
  // envelope's type, each announcement's prefixes) instead of parsing the whole message.
  ws.on('message', (frame: Buffer) => {
    readStreamFrame(frame, r);
    lastStreamAt = performance.now();
  });
  ws.on('error', (e) => (r.streamError ??= e.message));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      // Without the stream client, a subscription to nothing the run sends keeps the socket quiet.
      const data = which === 'queries' ? { type: 'NOTIFICATION' } : { type: 'UPDATE', socketOptions: { batch: true } };
      ws.send(JSON.stringify({ type: 'ris_subscribe', data }));
      ws.once('message', () => resolve());
    });
    ws.once('error', reject);
  });
  let running = which !== 'stream';
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const path = i % 2 === 0 ? '/neighbors' : `/rib?prefix=${encodeURIComponent(lookups[i % lookups.length] ?? '10.0.0.1')}&match=longest`;
      const t = performance.now();
      try {
        const res = await fetch(`http://${base}${path}`);
        await res.arrayBuffer();
        if (!res.ok) r.queryErrors++;
      } catch {
        r.queryErrors++;
      }
      r.queries++;
      r.slowestQueryMs = Math.max(r.slowestQueryMs, Math.round(performance.now() - t));
    }
  })();
  return {
    async stop(expectPrefixes) {
      running = false;
      await loop;
      // The stream trails the sink: what the workers decoded is still being sent.
      while (which !== 'queries' && r.streamPrefixes < expectPrefixes && !r.streamError && performance.now() - lastStreamAt < 5000) await new Promise((res) => setTimeout(res, 50));
      ws.terminate();
      return r;
    },
  };
}
