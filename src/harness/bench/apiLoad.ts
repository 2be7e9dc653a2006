// Management-plane clients beside a convergence run (`ribstorm bench --api-clients`): one asks
// GET /neighbors and a longest-match GET /rib in a loop, the other takes the whole WS /stream
// (every UPDATE, RIS Live shape, a batch per frame), both in a process of their own
// (streamClient.ts). What they got is reported beside the run's time, so that the cost of being
// watched is measured, and whether the stream missed anything.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { StreamClientData, StreamCount } from './streamClient.js';

/** Which clients run: the query loop, the stream, or both. */
export type ApiClients = 'both' | 'queries' | 'stream';

/** What the clients got (StreamCount: queries answered, UPDATEs streamed, the stream's trail). */
export type ApiLoadReport = StreamCount;

export interface ApiLoad {
  /**
   * Ends the query loop; waits until the stream has `expectPrefixes` or has been quiet for five
   * seconds. `convergedAt` (ms since the epoch): when the run converged, what the stream's trail is measured from.
   */
  settle(expectPrefixes: number, convergedAt: number): Promise<void>;
  /** From now on the stream client times each UPDATE from its `timestamp` to its arrival (the latency churn). */
  mark(): void;
  /** Ends the clients and reports what they got. */
  stop(): Promise<ApiLoadReport>;
}

/** Starts the clients against the API at `base` ("127.0.0.1:PORT") at nice `nice`; resolves once the stream is subscribed. */
export async function startApiLoad(base: string, which: ApiClients, lookups: string[], nice: number): Promise<ApiLoad> {
  // Without the stream client, a subscription to nothing the run sends keeps the socket quiet.
  const subscribe = which === 'queries' ? { type: 'NOTIFICATION' } : { type: 'UPDATE', socketOptions: { batch: true } };
  const queries = which === 'stream' ? undefined : { base: `http://${base}`, lookups };
  const data: StreamClientData = { kind: 'ribstorm-stream-client', url: `ws://${base}/stream`, subscribe, queries, nice };
  // Detached: a session of its own, whose share of the CPU the client lowers (streamClient.ts).
  const client = fork(fileURLToPath(new URL('./streamClient.js', import.meta.url)), [JSON.stringify(data)], { detached: true, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    client.once('message', (m: { type: string; message?: string }) => (m.type === 'subscribed' ? resolve() : reject(new Error(`API clients: ${m.message}`))));
    client.once('error', reject);
    client.once('exit', (code) => reject(new Error(`API clients: exited (${code}) before subscribing`)));
  }).catch((e: unknown) => {
    client.kill();
    throw e;
  });
  return {
    async settle(expectPrefixes, convergedAt) {
      client.send({ settle: true, expectPrefixes, wait: which !== 'queries', convergedAt });
      await new Promise((resolve) => {
        client.once('message', resolve);
        client.once('exit', resolve);
      });
    },
    mark() {
      client.send({ mark: true });
    },
    async stop() {
      client.send({ stop: true });
      const { count } = await new Promise<{ count: StreamCount }>((resolve) => {
        client.once('message', resolve);
        client.once('exit', () => resolve({ count: { queries: 0, queriesPerSecond: 0, queryErrors: 0, slowestQueryMs: 0, streamUpdates: 0, streamPrefixes: 0, streamError: 'the API clients exited', streamTrailMs: 0 } }));
      });
      client.kill();
      return count;
    },
  };
}
