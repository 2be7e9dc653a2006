// Management-plane clients beside a convergence run (`ribstorm bench --api-clients`): one asks
// GET /neighbors and a longest-match GET /rib in a loop, the other takes the whole WS /stream
// (every UPDATE, RIS Live shape, a batch per frame; streamClient.ts, on its own thread). What
// they got is reported beside the run's time, so that the cost of being watched is measured,
// and whether the stream missed anything.

import { Worker } from 'node:worker_threads';
import type { StreamClientData, StreamCount } from './streamClient.js';

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
  /** How long after the run converged the stream's last frame came, ms. */
  streamTrailMs: number;
}

export interface ApiLoad {
  /**
   * Ends the query loop; waits until the stream has `expectPrefixes` or has been quiet for five
   * seconds. `convergedAt` (ms since the epoch): when the run converged, what the stream's trail is measured from.
   */
  stop(expectPrefixes: number, convergedAt: number): Promise<ApiLoadReport>;
}

/** Starts both clients against the API at `base` ("127.0.0.1:PORT"); resolves once the stream is subscribed. */
export async function startApiLoad(base: string, which: ApiClients, lookups: string[], nice: number): Promise<ApiLoad> {
  const r: ApiLoadReport = { queries: 0, queryErrors: 0, slowestQueryMs: 0, streamUpdates: 0, streamPrefixes: 0, streamError: null, streamTrailMs: 0 };
  // Without the stream client, a subscription to nothing the run sends keeps the socket quiet.
  const subscribe = which === 'queries' ? { type: 'NOTIFICATION' } : { type: 'UPDATE', socketOptions: { batch: true } };
  const data: StreamClientData = { kind: 'ribstorm-stream-client', url: `ws://${base}/stream`, subscribe, nice };
  const client = new Worker(new URL('./streamClient.js', import.meta.url), { workerData: data });
  await new Promise<void>((resolve, reject) => {
    client.once('message', (m: { type: string; message?: string }) => (m.type === 'subscribed' ? resolve() : reject(new Error(`stream client: ${m.message}`))));
    client.once('error', reject);
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
    async stop(expectPrefixes, convergedAt) {
      running = false;
      await loop;
      client.postMessage({ stop: true, expectPrefixes, wait: which !== 'queries', convergedAt });
      const { count } = await new Promise<{ count: StreamCount }>((resolve) => {
        client.once('message', resolve);
        client.once('exit', () => resolve({ count: { streamUpdates: 0, streamPrefixes: 0, streamError: 'the stream client exited', streamTrailMs: 0 } }));
      });
      await client.terminate();
      Object.assign(r, count);
      return r;
    },
  };
}
