// A scripted BGP peer over a plain socket: sends exactly what a test tells it to and records
// every message it receives, so tests can check ribstorm's answers byte by byte.

import net from 'node:net';
import { Framer } from './framer.js';
import { setLogSink } from '../../src/log.js';
import {
  buildOpen,
  CapabilityCode,
  decodeNotification,
  encodeOpen,
  KEEPALIVE,
  type Capability,
  type NotificationMessage,
} from '../../src/packet/index.js';

export interface Received {
  type: number;
  bytes: Uint8Array;
  at: number;
}

export class RawPeer {
  readonly received: Received[] = [];
  closed = false;
  private readonly framer = new Framer();

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      this.framer.push(chunk, (type, msg) => {
        this.received.push({ type, bytes: msg.slice(), at: Date.now() });
        return true;
      });
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static connect(host: string, port: number, localAddress: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port, localAddress }, () => resolve(new RawPeer(s)));
      s.once('error', reject);
    });
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  sendOpen(asn: number, holdTime: number, bgpId: string, caps: Capability[] = defaultCaps(asn)): void {
    this.send(encodeOpen(buildOpen(asn, holdTime, bgpId, caps)));
  }

  sendKeepalive(): void {
    this.send(KEEPALIVE);
  }

  async waitFor(type: number, timeoutMs = 5000, count = 1): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.received.filter((m) => m.type === type);
      if (got.length >= count) return got[count - 1];
      if (Date.now() > deadline) throw new Error(`no message of type ${type} within ${timeoutMs} ms (got ${this.received.map((m) => m.type).join(',')})`);
      await sleep(10);
    }
  }

  async notification(timeoutMs = 5000): Promise<NotificationMessage> {
    return decodeNotification((await this.waitFor(3, timeoutMs)).bytes);
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('socket still open');
      await sleep(10);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export function defaultCaps(asn: number): Capability[] {
  return [
    { code: CapabilityCode.Multiprotocol, afi: 1, safi: 1 },
    { code: CapabilityCode.RouteRefresh } as Capability,
    { code: CapabilityCode.FourOctetAs, asn },
  ];
}

/** A listener standing in for a peer that ribstorm connects to. */
export function listen(host: string, port: number): Promise<{ server: net.Server; next: () => Promise<RawPeer> }> {
  const queue: RawPeer[] = [];
  const server = net.createServer((s) => queue.push(new RawPeer(s)));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () =>
      resolve({
        server,
        next: async () => {
          const deadline = Date.now() + 5000;
          while (!queue.length) {
            if (Date.now() > deadline) throw new Error('no connection from ribstorm');
            await sleep(10);
          }
          return queue.shift()!;
        },
      }),
    );
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Keeps the speaker's log out of the test output; returns the lines for assertions. */
export function captureLog(): string[] {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  return lines;
}
