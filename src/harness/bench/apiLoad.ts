// Management-plane clients beside a convergence run (`ribstorm bench --api-clients`): one asks
// GET /neighbors and a longest-match GET /rib in a loop, the other takes the whole WS /stream
// (every UPDATE, RIS Live shape, a batch per frame), both in a process of their own
// (streamClient.ts). What they got is reported beside the run's time, so that the cost of being
// watched is measured, and whether the stream missed anything.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { emptyCount, type StreamClientData, type StreamCount } from './streamClient.js';

/** The clients' nice value unless --client-nice says otherwise: the lowest priority. */
export const CLIENT_NICE = 19;

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
  /** Ends the clients and reports what they got (once; later calls get the same). */
  stop(): Promise<ApiLoadReport>;
}

/** The clients' answers: 'subscribed' (or 'failed'), 'settled', 'count'. */
type ClientMessage = { type: 'subscribed' } | { type: 'failed'; message: string } | { type: 'settled' } | { type: 'count'; count: StreamCount };

/** Starts the clients against the API at `base` ("127.0.0.1:PORT") at nice `nice`; resolves once the stream is subscribed. */
export async function startApiLoad(base: string, which: ApiClients, lookups: string[], nice: number): Promise<ApiLoad> {
  // Without the stream client, a subscription to nothing the run sends keeps the socket quiet.
  const subscribe = which === 'queries' ? { type: 'NOTIFICATION' } : { type: 'UPDATE', socketOptions: { batch: true } };
  const queries = which === 'stream' ? undefined : { base: `http://${base}`, lookups };
  const data: StreamClientData = { kind: 'ribstorm-stream-client', url: `ws://${base}/stream`, subscribe, queries, nice };
  // Detached: a session of its own, whose share of the CPU the client lowers (streamClient.ts);
  // none of the bench's node options (a profiler's, an inspector's).
  const client = fork(fileURLToPath(new URL('./streamClient.js', import.meta.url)), [JSON.stringify(data)], {
    detached: true,
    execArgv: [],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => client.once('exit', (code) => resolve(void (exitCode = code))));
  // A channel that closed under a send: the wait below ends with the process.
  client.on('error', () => {});
  /** Sends `m` (unless the process is gone) and waits for the answer of `type`, or for the process to end (undefined). */
  const ask = async <T extends ClientMessage['type']>(m: object | null, type: T): Promise<Extract<ClientMessage, { type: T | 'failed' }> | undefined> => {
    let listener: ((a: ClientMessage) => void) | undefined;
    const answered = new Promise<Extract<ClientMessage, { type: T | 'failed' }>>((resolve) => {
      listener = (a) => {
        if (a.type === type || a.type === 'failed') resolve(a as Extract<ClientMessage, { type: T | 'failed' }>);
      };
      client.on('message', listener);
    });
    if (m && client.connected) client.send(m);
    try {
      return await Promise.race([answered, exited.then(() => undefined)]);
    } finally {
      client.off('message', listener!);
    }
  };
  const subscribed = await ask(null, 'subscribed');
  if (subscribed?.type !== 'subscribed') {
    client.kill();
    throw new Error(`API clients: ${subscribed?.type === 'failed' ? subscribed.message : `exited (${exitCode}) before subscribing`}`);
  }
  let stopped: Promise<ApiLoadReport> | undefined;
  return {
    async settle(expectPrefixes, convergedAt) {
      await ask({ settle: true, expectPrefixes, wait: which !== 'queries', convergedAt }, 'settled');
    },
    mark() {
      if (client.connected) client.send({ mark: true });
    },
    stop() {
      stopped ??= (async () => {
        const a = await ask({ stop: true }, 'count');
        client.kill();
        return a?.type === 'count'
          ? a.count
          : { ...emptyCount(), streamError: `the API clients exited (${exitCode})` };
      })();
      return stopped;
    },
  };
}
