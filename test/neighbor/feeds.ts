// Neighbors on their own listener, with a stand-in for the RIB whose batches complete late and
// out of order, and raw peers that send generated UPDATE streams: for the receive ring's
// backpressure and for what a throw on one neighbor's events does.

import { createHash } from 'node:crypto';
import net from 'node:net';
import { validateNeighbor } from '../../src/config/schema.js';
import { State } from '../../src/neighbor/fsm.js';
import { Neighbor, type UpdateIngest } from '../../src/neighbor/neighbor.js';
import { CapabilityCode, encodeMessage, MessageType, type Capability } from '../../src/packet/index.js';
import { freePort } from '../helpers/env.js';
import { defaultCaps, RawPeer, until } from '../helpers/rawPeer.js';

export const LOCAL = { asn: 65001, routerId: '10.0.0.1' };

/** What the stand-in RIB saw of one neighbor's UPDATEs. */
export interface Seen {
  updates: number;
  bytes: number;
  hash: ReturnType<typeof createHash>;
  batches: number;
  /** Batches still held (submitted, not completed). */
  inFlight: number;
  /** Batches whose bytes changed while held: ring space reused too early. */
  corrupted: number;
  /** Completions that found the neighbor's reading paused (its ring full). */
  completedWhilePaused: number;
}

export interface SlowIngestOptions {
  /** Longest delay before a batch completes, in ms (each one draws 0..max). */
  maxDelayMs?: number;
  /** Called at each submit; may throw or return a rejected promise to stand for a failing RIB. */
  onSubmit?: (n: Neighbor) => void | Promise<never>;
}

/** A RIB stand-in: records each batch in order at submit, checks it again when it completes. */
export class SlowIngest implements UpdateIngest {
  readonly seen = new Map<Neighbor, Seen>();
  private seed = 12345;

  constructor(private readonly opts: SlowIngestOptions = {}) {}

  of(n: Neighbor): Seen {
    let s = this.seen.get(n);
    if (!s) {
      s = { updates: 0, bytes: 0, hash: createHash('sha256'), batches: 0, inFlight: 0, corrupted: 0, completedWhilePaused: 0 };
      this.seen.set(n, s);
    }
    return s;
  }

  submit(n: Neighbor, buffer: SharedArrayBuffer, descriptors: Uint32Array): Promise<Record<string, never>> {
    const failure = this.opts.onSubmit?.(n);
    if (failure) return failure;
    const s = this.of(n);
    const ring = Buffer.from(buffer);
    const digest = () => {
      const h = createHash('sha1');
      for (let i = 0; i < descriptors.length; i += 2) h.update(ring.subarray(descriptors[i], descriptors[i] + descriptors[i + 1]));
      return h.digest('hex');
    };
    for (let i = 0; i < descriptors.length; i += 2) {
      const msg = ring.subarray(descriptors[i], descriptors[i] + descriptors[i + 1]);
      s.hash.update(msg);
      s.updates++;
      s.bytes += msg.length;
    }
    const before = digest();
    s.batches++;
    s.inFlight++;
    const delay = Math.floor(this.random() * ((this.opts.maxDelayMs ?? 8) + 1));
    return new Promise((resolve) =>
      setTimeout(() => {
        if (digest() !== before) s.corrupted++;
        if (n.readingPaused) s.completedWhilePaused++;
        s.inFlight--;
        resolve({});
      }, delay),
    );
  }

  sessionUp(): void {}
  sessionDown(): void {}
  resend(): void {}

  private random(): number {
    this.seed = (Math.imul(this.seed, 1103515245) + 12345) >>> 0;
    return this.seed / 2 ** 32;
  }
}

export interface Feeds {
  host: string;
  port: number;
  neighbors: Neighbor[];
  close(): Promise<void>;
}

/**
 * Passive neighbors for `peers` (addresses on loopback), accepted by a listener on `host` the
 * way the speaker accepts (paused, then handed to the neighbor).
 */
export async function startNeighbors(host: string, peers: string[], setup: (n: Neighbor, i: number) => void): Promise<Feeds> {
  const port = await freePort(host);
  const neighbors = peers.map((address, i) => {
    const n = new Neighbor(validateNeighbor({ address, 'remote-as': 65100 + i, passive: true, 'idle-hold-time': 1 }, `n${i}`), LOCAL);
    setup(n, i);
    return n;
  });
  const byAddress = new Map(neighbors.map((n) => [n.config.address, n]));
  const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
    socket.on('error', () => {});
    const n = byAddress.get((socket.remoteAddress ?? '').replace(/^::ffff:/, ''));
    if (n) n.incoming(socket);
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  for (const n of neighbors) n.start();
  return {
    host,
    port,
    neighbors,
    close: async () => {
      for (const n of neighbors) n.destroy();
      // Accepted sockets gave their handles to the neighbors: the server would wait on them.
      server.close();
    },
  };
}

/** Connects a raw peer from `address` and completes the OPEN exchange with neighbor `n`. */
export async function establish(feeds: Feeds, n: Neighbor, extended: boolean): Promise<RawPeer> {
  const p = await RawPeer.connect(feeds.host, feeds.port, n.config.address);
  const caps: Capability[] = defaultCaps(n.config.remoteAs);
  if (extended) caps.push({ code: CapabilityCode.ExtendedMessage } as Capability);
  p.sendOpen(n.config.remoteAs, 90, n.config.address, caps);
  await p.waitFor(MessageType.OPEN);
  p.sendKeepalive();
  await until(() => n.state === State.Established, 10_000, `${n.config.address} Established`);
  return p;
}

/** A generated stream of UPDATEs (withdrawn /32s numbered in sequence), KEEPALIVEs between. */
export interface Stream {
  bytes: Buffer;
  updates: number;
  updateBytes: number;
  /** SHA-256 over the UPDATE messages, in order. */
  sha256: string;
}

/**
 * About `totalBytes` of UPDATEs, each up to `maxLength` octets, lengths drawn from `seed`.
 * Every message is different (a running prefix number), so a lost, doubled or reordered one
 * changes the digest.
 */
export function updateStream(totalBytes: number, maxLength: number, seed: number): Stream {
  const parts: Uint8Array[] = [];
  const hash = createHash('sha256');
  let size = 0;
  let updates = 0;
  let updateBytes = 0;
  let next = seed >>> 0;
  let prefix = 0;
  const random = () => {
    next = (Math.imul(next, 1664525) + 1013904223) >>> 0;
    return next / 2 ** 32;
  };
  const maxPrefixes = Math.floor((maxLength - 19 - 4) / 5);
  while (size < totalBytes) {
    // Mostly small messages, some at the maximum: partial messages land everywhere in the ring.
    const r = random();
    const count = r < 0.1 ? maxPrefixes : 1 + Math.floor(random() * Math.min(maxPrefixes, r < 0.6 ? 40 : maxPrefixes));
    const body = Buffer.alloc(4 + 5 * count);
    body.writeUInt16BE(5 * count, 0);
    for (let i = 0; i < count; i++) {
      const o = 2 + 5 * i;
      body[o] = 32;
      body.writeUInt32BE(prefix++ >>> 0, o + 1);
    }
    body.writeUInt16BE(0, 2 + 5 * count); // no path attributes
    const msg = encodeMessage(MessageType.UPDATE, body);
    parts.push(msg);
    hash.update(msg);
    size += msg.length;
    updates++;
    updateBytes += msg.length;
    if (random() < 0.01) {
      const ka = encodeMessage(MessageType.KEEPALIVE, new Uint8Array(0));
      parts.push(ka);
      size += ka.length;
    }
  }
  return { bytes: Buffer.concat(parts), updates, updateBytes, sha256: hash.digest('hex') };
}
