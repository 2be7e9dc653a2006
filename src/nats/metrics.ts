// The feed's and the consumer's counters in GET /metrics, read at scrape time.

import client from 'prom-client';
import type { NatsConsumer } from './consume.js';
import type { Publisher } from './publisher.js';

function gauge(r: client.Registry, name: string, help: string, read: () => number, counter = false): void {
  if (counter) new client.Counter({ name, help, registers: [r], collect() { this.reset(); this.inc(read()); } });
  else new client.Gauge({ name, help, registers: [r], collect() { this.set(read()); } });
}

export function feedMetrics(r: client.Registry, p: Publisher): void {
  const c = p.counts;
  gauge(r, 'ribstorm_nats_published_total', 'NATS messages published to JetStream (retries included)', () => c.published, true);
  gauge(r, 'ribstorm_nats_acked_total', 'NATS messages the stream acknowledged', () => c.acked, true);
  gauge(r, 'ribstorm_nats_acked_bytes_total', 'Payload bytes of the NATS messages the stream acknowledged', () => c.ackedBytes, true);
  gauge(r, 'ribstorm_nats_dropped_total', 'NATS messages dropped because the buffer was full', () => c.dropped, true);
  gauge(r, 'ribstorm_nats_dropped_bytes_total', 'Bytes of the NATS messages dropped', () => c.droppedBytes, true);
  gauge(r, 'ribstorm_nats_retried_total', 'NATS messages sent again after a failed or missing acknowledgement', () => c.retried, true);
  gauge(r, 'ribstorm_nats_buffered_bytes', 'Bytes waiting for the NATS server (queued and unacknowledged)', () => c.buffered);
  gauge(r, 'ribstorm_nats_connected', '1 while the NATS server is reachable', () => (p.link.connected ? 1 : 0));
}

export function consumerMetrics(r: client.Registry, k: NatsConsumer): void {
  const c = k.counts;
  gauge(r, 'ribstorm_nats_consumed_total', 'NATS messages read from the stream', () => c.messages, true);
  gauge(r, 'ribstorm_nats_consumed_updates_total', 'UPDATEs from the stream handed to the RIB', () => c.updates, true);
  gauge(r, 'ribstorm_nats_consumed_skipped_total', 'Stream messages skipped (not from a ribstorm feed)', () => c.skipped, true);
  gauge(r, 'ribstorm_nats_consumed_refused_total', 'Batches from the stream the RIB refused (malformed UPDATEs)', () => c.refused, true);
  gauge(r, 'ribstorm_nats_stream_sequence', 'The last stream sequence number read', () => c.lastSeq);
  gauge(r, 'ribstorm_nats_remote_peers', 'Peers of other collectors held from the stream', () => k.peerList().length);
}
