// Rebuilding other collectors' tables from a JetStream stream: an ordered consumer reads the
// stream from its start (or only what comes from now on), and each (collector, peer) becomes
// a RIB peer of its own on first sight, with the session parameters its messages carry. Its
// UPDATEs go to the workers as the raw messages the collector received, checked and decided
// like any neighbor's (localRoutes.ts is the pattern); RIS_PEER_STATE connected or down
// empties it, as a new or lost session does at the collector.

import { isIP } from 'node:net';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import { log } from '../log.js';
import { ipv4ToNumber } from '../packet/index.js';
import type { BatchResult, PeerContext } from '../rib/apply.js';
import type { PeerInfo, RibPipeline } from '../rib/pipeline.js';
import type { Speaker } from '../speaker/speaker.js';
import { LineLimiter } from '../util/lineLimiter.js';
import { NatsLink } from './connection.js';
import { rawUpdates } from './rawUpdates.js';
import { FORMAT_HEADER, PEER_HEADER, TYPE_HEADER, parseSessionInfo, type SessionInfo } from './subjects.js';

/** Batches handed to the RIB and not yet applied, at most: the stream waits beyond that. */
const MAX_PENDING = 16;
const RETRY_MS = 2000;
/**
 * Bytes asked of the server per pull, at least: what it sends us before we ask again. Without a
 * bound it sends a batch of messages as fast as it can, and a batch of the feed's large
 * messages (up to max_payload each) overflows the connection's pending limit on the server
 * (64 MiB by default) while we are busy: "slow consumer", the connection dropped.
 */
const PULL_BYTES = 16 * 2 ** 20;

export interface ConsumeOptions {
  url: string;
  stream: string;
  /** 'start': the whole stream; 'live': what is published from now on. */
  from: 'start' | 'live';
}

/** One peer of one collector, as a peer of our RIB. */
interface RemotePeer {
  name: string;
  index: number;
  /** The PEER_HEADER text it was last set up from. */
  header: string;
  ctx: PeerContext;
  paths: number;
}

export interface ConsumerCounts {
  /** NATS messages read from the stream. */
  messages: number;
  /** UPDATEs handed to the RIB. */
  updates: number;
  /** Messages that were not ribstorm's (no peer header, no raw UPDATE). */
  skipped: number;
  /** Batches the RIB refused (malformed UPDATEs). */
  refused: number;
  /** The last stream sequence number read. */
  lastSeq: number;
}

export class NatsConsumer {
  readonly counts: ConsumerCounts = { messages: 0, updates: 0, skipped: 0, refused: 0, lastSeq: 0 };
  readonly link: NatsLink;
  private readonly peers = new Map<string, RemotePeer>();
  private readonly rib: RibPipeline;
  private readonly pending: Promise<unknown>[] = [];
  private messages: ConsumerMessages | null = null;
  private reading = false;
  /** The reading was ended to start again (after a reconnect), not by a failure. */
  private restart = false;
  private stopping = false;
  private readonly problems = new LineLimiter(log, 10_000);

  constructor(
    private readonly speaker: Speaker,
    private readonly opts: ConsumeOptions,
  ) {
    if (!speaker.rib) throw new Error('consuming needs the RIB');
    this.rib = speaker.rib;
    this.link = new NatsLink(opts.url, 'NATS consumer', { up: (nc, again) => this.up(nc, again) });
  }

  start(): void {
    this.link.start();
  }

  /** Peers seen so far, with the paths the RIB holds from each. */
  peerList(): Array<{ name: string; index: number; paths: number }> {
    return [...this.peers.values()].map(({ name, index, paths }) => ({ name, index, paths }));
  }

  /**
   * Reading starts once per connection. After a reconnect the reading in progress is ended and
   * starts again at once from the message after the last one read: left to itself, an ordered
   * consumer the server dropped as slow read nothing more until missed heartbeats (15 s, then
   * 45 s more in the benchmark).
   */
  private async up(nc: NatsConnection, again: boolean): Promise<void> {
    if (this.reading) {
      if (again && this.messages) {
        this.restart = true;
        void this.messages.close().catch(() => {});
      }
      return;
    }
    this.reading = true;
    try {
      await this.read(nc);
    } finally {
      this.reading = false;
    }
  }

  private async read(nc: NatsConnection): Promise<void> {
    const js = jetstream(nc);
    while (!this.stopping && !nc.isClosed()) {
      // After a lost connection, on from the next message not yet read.
      const resume = this.counts.lastSeq > 0;
      try {
        const consumer = await js.consumers.get(this.opts.stream, resume
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.counts.lastSeq + 1 }
          : { deliver_policy: this.opts.from === 'start' ? DeliverPolicy.All : DeliverPolicy.New });
        // At least two of the largest messages the server takes (the client's limit is messages or bytes).
        this.messages = await consumer.consume({ max_bytes: Math.max(PULL_BYTES, 2 * nc.info!.max_payload) });
        log(`NATS consumer: reading stream ${this.opts.stream} on ${this.opts.url} ${resume ? `from sequence ${this.counts.lastSeq + 1}` : this.opts.from === 'start' ? 'from its start' : 'from now on'}`);
        for await (const m of this.messages) {
          this.counts.lastSeq = m.seq;
          await this.handle(m.headers, m.data);
        }
      } catch (e) {
        if (this.stopping) return;
        this.problems.line(`NATS consumer: stream ${this.opts.stream} on ${this.opts.url}: ${(e as Error).message}; trying again`);
      }
      if (this.restart) this.restart = false;
      else if (!this.stopping) await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  /** One NATS message: a batch of one peer's messages of one type. */
  private async handle(h: MsgHdrs | undefined, data: Uint8Array): Promise<void> {
    this.counts.messages++;
    const header = h?.get(PEER_HEADER);
    const info = parseSessionInfo(header);
    if (!info || !header) {
      this.counts.skipped++;
      this.problems.line(`NATS consumer: a message without a ${PEER_HEADER} header skipped (not from a ribstorm feed?)`);
      return;
    }
    const peer = this.peer(info, header);
    const type = h?.get(TYPE_HEADER);
    if (type === 'UPDATE') return this.updates(peer, data, h?.get(FORMAT_HEADER) === 'msgpack' ? 'msgpack' : 'json');
    if (type === 'RIS_PEER_STATE') {
      // A new session starts from nothing, a lost one leaves nothing.
      this.track(peer, this.rib.flushPeer(peer.index));
    }
  }

  /** The RIB peer of (collector, peer), made on first sight and kept up to date with its session. */
  private peer(info: SessionInfo, header: string): RemotePeer {
    const key = `${info.collector}/${info.peer}`;
    let p = this.peers.get(key);
    if (p && p.header === header) return p;
    const rib: PeerInfo = {
      asn: info.asn,
      routerId: isIP(info.id) === 4 ? ipv4ToNumber(info.id) : 0,
      address: isIP(info.peer) === 4 ? ipv4ToNumber(info.peer) : 0,
      ibgp: !info.ebgp,
    };
    const ctx: PeerContext = { asn4: info.asn4, ebgp: info.ebgp, addPath: info.addPath, addPath6: info.addPath6, import: 'accept' };
    if (p) {
      this.rib.setPeer(p.index, rib);
      Object.assign(p, { header, ctx });
    } else {
      const index = this.rib.addPeer(rib);
      this.peers.set(key, (p = { name: key, index, header, ctx, paths: 0 }));
      this.speaker.remotePeers.set(index, { name: key, asn: info.asn });
      log(`NATS consumer: new peer ${key} (AS${info.asn}, ${info.ebgp ? 'eBGP' : 'iBGP'} at its collector)`);
    }
    return p;
  }

  /** The raw UPDATEs of a batch (each line's `raw`, the last field) as one RIB batch. */
  private async updates(p: RemotePeer, data: Uint8Array, format: 'json' | 'msgpack'): Promise<void> {
    const { buffer, descriptors, skipped } = rawUpdates(data, format);
    this.counts.skipped += skipped;
    if (descriptors.length === 0) return;
    this.counts.updates += descriptors.length / 2;
    this.track(p, this.rib.submitUpdates(p.index, p.ctx, buffer, descriptors));
    while (this.pending.length >= MAX_PENDING) await this.pending[0];
  }

  /** Counts what a batch did to the peer's paths; says once in a while when the RIB refused one. */
  private track(p: RemotePeer, done: Promise<BatchResult>): void {
    const w = done.then((r) => {
      p.paths += r.pathDelta;
      if (r.error) {
        this.counts.refused++;
        this.problems.line(`NATS consumer: ${p.name}: UPDATE refused by the RIB (${r.error.detail}); its later UPDATEs are ignored until its session restarts`);
      }
    });
    this.pending.push(w);
    void w.finally(() => this.pending.splice(this.pending.indexOf(w), 1));
  }

  /** Resolves once everything read so far is in the RIB. */
  async settled(): Promise<void> {
    while (this.pending.length) await Promise.all(this.pending);
  }

  async close(): Promise<void> {
    this.stopping = true;
    await this.messages?.close().catch(() => {});
    await this.link.close();
  }
}
