// The speaker's side of the NATS JetStream feed: every UPDATE its neighbors send, as the RIB
// workers write it for WS /stream (RIS Live JSON, the raw message last), and the sessions'
// RIS_PEER_STATE, OPEN, NOTIFICATION and KEEPALIVE, published per batch on
// `ribstorm.<collector>.<peer>.<type>`. Each NATS message carries the peer's session in a
// header (subjects.ts), so a consumer can rebuild the peer's table from the stream alone.
// A peer's state changes are published after the UPDATEs the RIB took before them.

import { headers } from '@nats-io/transport-node';
import { pack } from 'msgpackr';
import type { NatsConfig } from '../config/nats.js';
import type { Neighbor } from '../neighbor/neighbor.js';
import type { UpdateEventBatch } from '../rib/events.js';
import type { Speaker, UpdateSource } from '../speaker/speaker.js';
import { watchRisMessages, type RisMessageType } from '../api/risMessages.js';
import { Publisher } from './publisher.js';
import { defaultCollector, FORMAT_HEADER, PEER_HEADER, renderSubject, TYPE_HEADER, type SessionInfo } from './subjects.js';

const encoder = new TextEncoder();

export class NatsFeed {
  readonly publisher: Publisher;
  readonly collector: string;
  /** Each neighbor's session as last seen (kept past its end for the messages that follow). */
  private readonly sessions = new Map<Neighbor, string>();
  private counter = 0;
  private readonly onUpdates = (_index: number, batch: UpdateEventBatch) => this.updates(batch);

  constructor(
    private readonly speaker: Speaker,
    private readonly config: NatsConfig,
  ) {
    this.collector = config.collector ?? defaultCollector(speaker.config.global.routerId);
    this.publisher = new Publisher(config);
    const rib = speaker.rib;
    if (!rib) throw new Error('the NATS feed needs the RIB');
    rib.on('updates', this.onUpdates);
    // Raw in every UPDATE: a consumer rebuilds from the bytes, unknown attributes and all.
    rib.watchUpdates('raw', this);
    for (const n of speaker.neighbors.values()) this.watch(n);
    speaker.on('neighborAdded', (n) => this.watch(n));
  }

  private watch(n: Neighbor): void {
    watchRisMessages(n, (type, fields) => {
      // A new session's parameters are known now; the message waits for the earlier batches.
      if (type === 'RIS_PEER_STATE' && n.session) this.sessions.delete(n);
      const session = this.session(n);
      this.speaker.rib!.afterUpdatesHandedOn(() => this.message(n, session, type, fields));
    });
  }

  start(): void {
    this.publisher.start();
  }

  async close(): Promise<void> {
    this.speaker.rib?.off('updates', this.onUpdates);
    this.speaker.rib?.watchUpdates('off', this);
    await this.publisher.close();
  }

  /** The PEER_HEADER of a neighbor's current (or last) session. */
  private session(n: Neighbor): string {
    let text = this.sessions.get(n);
    if (text === undefined) this.sessions.set(n, (text = this.header(n, n.session)));
    return text;
  }

  /** PEER_HEADERs of sessions a batch of UPDATEs came in on (UpdateSource). */
  private readonly headers = new WeakMap<NonNullable<Neighbor['session']>, string>();

  /** The PEER_HEADER of session `s` of neighbor `n` (none: what its config says). */
  private header(n: Neighbor, s: Neighbor['session']): string {
    let text = s ? this.headers.get(s) : undefined;
    if (text === undefined) {
      const c = n.config;
      const info: SessionInfo = {
        collector: this.collector,
        peer: c.address,
        asn: s?.peerAs ?? c.remoteAs,
        id: s?.peerId ?? '0.0.0.0',
        ebgp: s?.ebgp ?? c.remoteAs !== (c.localAs ?? this.speaker.config.global.asn),
        asn4: s?.asn4 ?? true,
        addPath: s?.addPathReceive.includes('ipv4-unicast') ?? false,
        addPath6: s?.addPathReceive.includes('ipv6-unicast') ?? false,
      };
      text = JSON.stringify(info);
      if (s) this.headers.set(s, text);
    }
    return text;
  }

  /** The envelope's fields as JSON text, without the closing brace. */
  private envelope(n: Neighbor, peerAs: number, type: string): string {
    return `{"peer":"${n.config.address}","peer_asn":"${peerAs}","id":"${this.collector}-${(this.counter++).toString(16)}","host":${JSON.stringify(this.collector)},"type":"${type}"`;
  }

  private message(n: Neighbor, session: string, type: RisMessageType, fields: object): void {
    const asn = n.session?.peerAs ?? n.config.remoteAs;
    const body = JSON.stringify({ timestamp: Date.now() / 1000, ...fields });
    this.send(n, session, type, [`${this.envelope(n, asn, type)},${body.slice(1)}`]);
  }

  /** A batch's UPDATEs (already applied to the RIB), in NATS messages of at most max_payload. */
  private updates(batch: UpdateEventBatch): void {
    // The neighbor and session the batch came in on: its events may trail them (rib/eventLane.ts).
    const source = batch.tag as UpdateSource | undefined;
    if (!source) return; // local routes: not a neighbor's
    const { neighbor: n, session: s } = source;
    const asn = s?.peerAs ?? n.config.remoteAs;
    const session = s ? this.header(n, s) : this.session(n);
    this.send(n, session, 'UPDATE', batch.json.map((body) => `${this.envelope(n, asn, 'UPDATE')},${body.slice(1)}`));
  }

  private send(n: Neighbor, session: string, type: string, lines: string[]): void {
    const subject = renderSubject(this.config.subject, this.collector, n.config.address, type);
    const max = this.publisher.maxPayload;
    let start = 0;
    let bytes = 0;
    for (let i = 0; i <= lines.length; i++) {
      // JSON text here is ASCII but for host names and the like: length is close to bytes.
      if (i === lines.length || (i > start && bytes + lines[i].length + 1 > max)) {
        this.publish(subject, session, type, lines.slice(start, i));
        start = i;
        bytes = 0;
      }
      if (i < lines.length) bytes += lines[i].length + 1;
    }
  }

  private publish(subject: string, session: string, type: string, lines: string[]): void {
    if (lines.length === 0) return;
    const h = headers();
    h.set(PEER_HEADER, session);
    h.set(TYPE_HEADER, type);
    h.set(FORMAT_HEADER, this.config.format);
    const payload = this.config.format === 'msgpack' ? new Uint8Array(pack(lines.map((l) => JSON.parse(l) as object))) : encoder.encode(lines.join('\n'));
    this.publisher.publish(subject, payload, h);
  }
}
