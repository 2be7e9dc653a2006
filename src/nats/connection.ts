// One connection to a NATS server for the feed or the consumer: connected in the background
// and kept (the client reconnects on its own; a first connection that fails is retried here),
// with every change said in one line naming the server. Nothing here can stop the speaker.

import { connect, type NatsConnection } from '@nats-io/transport-node';
import { log } from '../log.js';
import { LineLimiter } from '../util/lineLimiter.js';

/** Seconds between attempts at a first connection. */
const RETRY_MS = 2000;

export interface NatsLinkEvents {
  /** Connected, first or again (the connection to use from now on). */
  up(nc: NatsConnection, again: boolean): void | Promise<void>;
  /** Disconnected: nothing should be sent until `up` again. */
  down?(): void;
}

export class NatsLink {
  private nc: NatsConnection | null = null;
  private stopping = false;
  private retry: NodeJS.Timeout | null = null;
  private readonly failures = new LineLimiter(log, 30_000);
  /** True while the server is reachable. */
  connected = false;

  constructor(
    /** "nats://host:port", or several comma-separated. */
    readonly url: string,
    /** What this link is for, in log lines: "NATS feed", "NATS consumer". */
    private readonly role: string,
    private readonly on: NatsLinkEvents,
  ) {}

  /** Starts connecting; resolves at once (the connection comes when the server does). */
  start(): void {
    void this.attempt();
  }

  get connection(): NatsConnection | null {
    return this.nc;
  }

  private async attempt(): Promise<void> {
    this.retry = null;
    if (this.stopping) return;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: this.url.split(',').map((s) => s.trim()),
        name: 'ribstorm',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        pingInterval: 10_000,
        maxPingOut: 3,
      });
    } catch (e) {
      this.failures.line(`${this.role}: cannot connect to NATS server ${this.url}: ${(e as Error).message}; retrying every ${RETRY_MS / 1000}s`);
      if (!this.stopping) this.retry = setTimeout(() => void this.attempt(), RETRY_MS);
      return;
    }
    if (this.stopping) {
      await nc.close().catch(() => {});
      return;
    }
    this.nc = nc;
    this.connected = true;
    log(`${this.role}: connected to NATS server ${this.url} (${nc.getServer()})`);
    void this.watch(nc);
    void nc.closed().then((err) => {
      this.connected = false;
      if (this.nc === nc) this.nc = null;
      if (this.stopping) return;
      log(`${this.role}: connection to NATS server ${this.url} closed${err ? ` (${err.message})` : ''}; connecting again`);
      this.on.down?.();
      this.retry = setTimeout(() => void this.attempt(), RETRY_MS);
    });
    await this.up(nc, false);
  }

  private async up(nc: NatsConnection, again: boolean): Promise<void> {
    try {
      await this.on.up(nc, again);
    } catch (e) {
      log(`${this.role}: NATS server ${this.url}: ${(e as Error).message}`);
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (this.stopping) return;
      if (s.type === 'disconnect') {
        this.connected = false;
        log(`${this.role}: lost the NATS server ${this.url}; reconnecting`);
        this.on.down?.();
      } else if (s.type === 'reconnect') {
        this.connected = true;
        log(`${this.role}: reconnected to NATS server ${this.url}`);
        await this.up(nc, true);
      } else if (s.type === 'error') {
        log(`${this.role}: NATS server ${this.url}: ${s.error?.message ?? 'error'}`);
      }
    }
  }

  async close(): Promise<void> {
    this.stopping = true;
    if (this.retry) clearTimeout(this.retry);
    this.connected = false;
    const nc = this.nc;
    this.nc = null;
    // Drain sends what the client still holds; a server that is away cannot take it.
    await nc?.close().catch(() => {});
  }
}
