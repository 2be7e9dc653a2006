// Shared by the benchmarks: tables placed in shared memory and cut into batches the way the
// receive ring hands them to the RIB; a running ribstorm's API asked for paths and metrics.

import type { EncodedTable } from '../src/harness/tablegen/index.js';

export interface SharedTable {
  buffer: SharedArrayBuffer;
  /** One (offset, length) descriptor list per batch. */
  batches: Uint32Array[];
  messages: number;
  prefixes: number;
}

export function shareTable(t: EncodedTable, batchBytes = 256 * 1024): SharedTable {
  const buffer = new SharedArrayBuffer(t.updates.length);
  const bytes = new Uint8Array(buffer);
  bytes.set(t.updates);
  const batches: Uint32Array[] = [];
  let cur: number[] = [];
  let size = 0;
  for (let o = 0; o < bytes.length; ) {
    const len = (bytes[o + 16] << 8) | bytes[o + 17];
    cur.push(o, len);
    size += len;
    o += len;
    if (size >= batchBytes) {
      batches.push(Uint32Array.from(cur));
      cur = [];
      size = 0;
    }
  }
  if (cur.length) batches.push(Uint32Array.from(cur));
  return { buffer, batches, messages: t.messageCount, prefixes: t.ipv4Prefixes };
}

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * GET `path` from the API at `api` ("ADDR:PORT"), once more on failure: a kept-alive connection
 * left idle meanwhile is closed by the server (uWebSockets.js's idle timeout), and the next
 * request on it fails.
 */
export async function apiGet(api: string, path: string): Promise<Response> {
  try {
    return await fetch(`http://${api}${path}`);
  } catch {
    return fetch(`http://${api}${path}`);
  }
}

/** Paths held (GET /rib/summary). */
export async function ribPaths(api: string): Promise<number> {
  return ((await (await apiGet(api, '/rib/summary')).json()) as { paths: number }).paths;
}

/** A metric's value from GET /metrics: the first series of `name` (with or without labels), 0 when absent. */
export async function metric(api: string, name: string): Promise<number> {
  const text = await (await apiGet(api, '/metrics')).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? 0);
}
