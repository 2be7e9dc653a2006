// The BGP speaker: listening sockets, the configured neighbors, and orderly shutdown.

import { EventEmitter } from 'node:events';
import net, { isIP } from 'node:net';
import type { Config } from './config/schema.js';
import { log } from './log.js';
import { Neighbor } from './neighbor/neighbor.js';
import { State } from './neighbor/fsm.js';

/** "::ffff:127.0.0.3" and "127.0.0.3" are the same peer. */
export function canonicalAddress(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

/**
 * Without a local-address, connect from the one specific listen address of the peer's family:
 * on loopback the kernel would otherwise pick 127.0.0.1, an address the peer does not expect.
 */
function defaultLocalAddress(config: Config, peer: string): string | undefined {
  const family = isIP(peer);
  const mine = config.global.listen
    .map((l) => l.address)
    .filter((a) => isIP(a) === family && a !== '0.0.0.0' && a !== '::');
  return mine.length === 1 ? mine[0] : undefined;
}

export class Speaker extends EventEmitter {
  readonly neighbors = new Map<string, Neighbor>();
  private readonly servers: net.Server[] = [];

  constructor(readonly config: Config) {
    super();
    const local = { asn: config.global.asn, routerId: config.global.routerId };
    for (const n of config.neighbors) {
      const localAddress = n.localAddress ?? defaultLocalAddress(config, n.address);
      this.neighbors.set(n.address, new Neighbor({ ...n, localAddress }, local));
    }
  }

  /** Listens on every configured address, then starts every neighbor. */
  async start(): Promise<void> {
    for (const { address, port } of this.config.global.listen) {
      const server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: address, port }, () => {
          server.off('error', reject);
          resolve();
        });
      }).catch((e: NodeJS.ErrnoException) => {
        throw new Error(`cannot listen on ${address} port ${port}: ${e.code ?? e.message}`);
      });
      server.on('error', (e) => log(`listener ${address}:${port}: ${e.message}`));
      this.servers.push(server);
      log(`listening on ${address} port ${port}`);
    }
    for (const n of this.neighbors.values()) n.start();
  }

  private accept(socket: net.Socket): void {
    socket.on('error', () => {});
    const from = canonicalAddress(socket.remoteAddress);
    const n = this.neighbors.get(from);
    if (!n) {
      log(`connection from ${from} refused: not a configured neighbor`);
      socket.destroy();
      return;
    }
    n.incoming(socket);
  }

  /**
   * Cease / Administrative Shutdown with `text` to every peer (RFC 8203/9003), then closes
   * the listeners. Resolves once every session has gone or after `graceMs`.
   */
  async shutdown(text: string, graceMs = 2000): Promise<void> {
    for (const s of this.servers) s.close();
    for (const n of this.neighbors.values()) n.stop(text);
    const deadline = Date.now() + graceMs;
    // Give the NOTIFICATIONs a moment on the wire before the sockets go.
    await new Promise((r) => setTimeout(r, 100));
    while (Date.now() < deadline && [...this.neighbors.values()].some((n) => n.state !== State.Idle)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const n of this.neighbors.values()) n.destroy();
  }
}
