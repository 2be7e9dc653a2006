// Debian's nats-server with JetStream, for the NATS feed's tests and benchmark: its own run
// directory (the JetStream store inside it), a free loopback port, started, found ready when it
// listens, paused (a stalled server) and stopped as the process group we started.

import { join } from 'node:path';
import { DaemonProcess, freePort, hasBinary, runDir } from './proc.js';

export const NATS_SERVER = 'nats-server';

export function hasNatsServer(): boolean {
  return hasBinary(NATS_SERVER);
}

export class NatsServer extends DaemonProcess {
  private constructor(dir: string, address: string, port: number) {
    super('nats-server', { runDir: dir, address, port }, join(dir, 'nats-server.log'));
  }

  /** A server not yet started: a fresh run directory and a free port on `address`. */
  static async create(address = '127.0.0.1'): Promise<NatsServer> {
    return new NatsServer(runDir('nats'), address, await freePort(address));
  }

  get url(): string {
    return `nats://${this.at.address}:${this.at.port}`;
  }

  get port(): number {
    return this.at.port;
  }

  /** Starts (or starts again, same port and store) with JetStream on; resolves once it listens. */
  async start(): Promise<void> {
    const args = ['-js', '-a', this.at.address, '-p', String(this.at.port), '-sd', join(this.at.runDir, 'store'), '-n', `ribstorm-test-${this.at.port}`];
    await this.launch(NATS_SERVER, args, { what: `nats-server listening on ${this.at.address}:${this.at.port}`, until: () => this.listening(), timeoutMs: 15_000 });
  }
}
