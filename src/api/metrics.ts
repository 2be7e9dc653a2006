// GET /metrics: Prometheus text with the names in use (ecosystem §2.4: GoBGP's `bgp_` namespace,
// FRR's per-family prefix counts). Gauges are read at scrape time from the neighbors and the
// RIB: nothing is counted on the ingest path except one histogram observation per batch.
// Series grow with peers and families, never with prefixes.

import client from 'prom-client';
import { State, STATE_NUMBER } from '../neighbor/fsm.js';
import type { Neighbor } from '../neighbor/neighbor.js';
import type { Speaker } from '../speaker/speaker.js';
import type { StationStatus } from '../bmp/exporter.js';
import type { NeighborView } from './neighborView.js';
import type { RibCounts } from './ribView.js';


const MESSAGE_TYPES = ['open', 'update', 'notification', 'keepalive', 'refresh'] as const;
const FAMILIES = [
  ['ipv4', 'ipv4Unicast'],
  ['ipv6', 'ipv6Unicast'],
] as const;

export class Metrics {
  readonly registry = new client.Registry();

  constructor(speaker: Speaker, neighbors: NeighborView, rib: () => RibCounts | null, bmp?: () => StationStatus[]) {
    const r = this.registry;
    client.collectDefaultMetrics({ register: r });
    const peerLabels = ['peer', 'peer_as'];
    const each = (fn: (labels: { peer: string; peer_as: string }, n: Neighbor) => void) => {
      for (const [peer, n] of speaker.neighbors) fn({ peer, peer_as: String(n.config.remoteAs) }, n);
    };
    new client.Gauge({
      name: 'bgp_peer_state',
      help: 'BGP FSM state (BGP4-MIB bgpPeerState: 1 idle, 2 connect, 3 active, 4 opensent, 5 openconfirm, 6 established)',
      labelNames: peerLabels,
      registers: [r],
      collect() {
        this.reset();
        each((l, n) => this.set(l, STATE_NUMBER[n.state]));
      },
    });
    new client.Gauge({
      name: 'bgp_peer_admin_state',
      help: '1 when the neighbor is administratively up',
      labelNames: peerLabels,
      registers: [r],
      collect() {
        this.reset();
        each((l, n) => this.set(l, n.adminUp ? 1 : 0));
      },
    });
    new client.Gauge({
      name: 'bgp_peer_uptime_seconds',
      help: 'Seconds since the session was established (0 when down)',
      labelNames: peerLabels,
      registers: [r],
      collect() {
        this.reset();
        const now = Date.now();
        each((l, n) => this.set(l, n.state === State.Established ? (now - neighbors.log(n).since) / 1000 : 0));
      },
    });
    new client.Counter({
      name: 'bgp_peer_flaps_total',
      help: 'Established sessions that went down',
      labelNames: peerLabels,
      registers: [r],
      collect() {
        this.reset();
        each((l, n) => this.inc(l, neighbors.log(n).connectionsDropped));
      },
    });
    new client.Gauge({
      name: 'bgp_peer_out_queue',
      help: 'Bytes queued for the peer and not yet taken by the socket',
      labelNames: peerLabels,
      registers: [r],
      collect() {
        this.reset();
        each((l, n) => this.set(l, n.outputBacklog));
      },
    });
    for (const dir of ['received', 'sent'] as const) {
      new client.Counter({
        name: `bgp_${dir}_messages_total`,
        help: `BGP messages ${dir}, by type`,
        labelNames: [...peerLabels, 'type'],
        registers: [r],
        collect() {
          this.reset();
          each((l, n) => {
            for (const t of MESSAGE_TYPES) this.inc({ ...l, type: t }, n[dir][t]);
          });
        },
      });
    }
    const routes = (name: string, help: string, pick: (p: ReturnType<NeighborView['peer']>, f: 'ipv4Unicast' | 'ipv6Unicast') => number) =>
      new client.Gauge({
        name,
        help,
        labelNames: [...peerLabels, 'family'],
        registers: [r],
        collect() {
          this.reset();
          each((l, n) => {
            const p = neighbors.peer(n);
            for (const [family, key] of FAMILIES) this.set({ ...l, family }, pick(p, key));
          });
        },
      });
    routes('bgp_routes_received', 'Paths held from the peer (Adj-RIB-In after import policy)', (p, f) => p[f].pfxRcd);
    routes('bgp_routes_accepted', 'Paths accepted from the peer', (p, f) => p[f].pfxAccepted);
    routes('bgp_routes_filtered', 'Announcements kept out by import policy, RFC 8212 or a max-prefix block', (p, f) => p[f].pfxFiltered);
    routes('bgp_routes_advertised', 'Prefixes the peer holds from us', (p, f) => p[f].pfxSnt);
    new client.Gauge({
      name: 'bgp_eor_received_timestamp_seconds',
      help: 'When the End-of-RIB of the current session arrived, per family',
      labelNames: [...peerLabels, 'family'],
      registers: [r],
      collect() {
        this.reset();
        each((l, n) => {
          for (const [family, at] of Object.entries(neighbors.log(n).endOfRib)) this.set({ ...l, family: family.replace('-unicast', '') }, at / 1000);
        });
      },
    });
    const ribGauge = (name: string, help: string, pick: (s: RibCounts, f: 'ipv4Unicast' | 'ipv6Unicast') => number) =>
      new client.Gauge({
        name,
        help,
        labelNames: ['family'],
        registers: [r],
        collect() {
          this.reset();
          const s = rib();
          if (s) for (const [family, key] of FAMILIES) this.set({ family }, pick(s, key));
        },
      });
    ribGauge('bgp_rib_prefixes', 'Prefixes with at least one path', (s, f) => s[f].prefixes);
    new client.Gauge({
      name: 'bgp_rib_paths',
      help: 'Paths held, over every peer and family',
      registers: [r],
      collect() {
        this.set(rib()?.paths ?? 0);
      },
    });
    new client.Gauge({
      name: 'bgp_rib_memory_bytes',
      help: "Bytes of the RIB's shared tables in use",
      registers: [r],
      collect() {
        this.set(rib()?.ribMemory ?? 0);
      },
    });
    new client.Gauge({
      name: 'ribstorm_rib_batches_pending',
      help: 'UPDATE batches submitted to the RIB workers and not yet applied',
      registers: [r],
      collect() {
        this.set(speaker.rib?.pending ?? 0);
      },
    });
    new client.Counter({
      name: 'ribstorm_rib_worker_faults_total',
      help: 'Batches the RIB workers failed (a worker died or threw): each one logged, its peer reset',
      registers: [r],
      collect() {
        this.reset();
        this.inc(speaker.rib?.faults ?? 0);
      },
    });
    const processing = new client.Histogram({
      name: 'bgp_update_processing_seconds',
      help: 'Time from handing a batch of UPDATEs to the RIB workers to its result',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [r],
    });
    speaker.on('batch', (_n, _r, seconds) => processing.observe(seconds));
    if (bmp) bmpMetrics(r, bmp);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** The BMP stations (../bmp/): connection state, what was sent, dropped, and reconnections. */
function bmpMetrics(r: client.Registry, stations: () => StationStatus[]): void {
  const each = (fn: (s: StationStatus) => void) => {
    for (const s of stations()) fn(s);
  };
  new client.Gauge({
    name: 'ribstorm_bmp_station_up',
    help: '1 while the BMP station is connected',
    labelNames: ['station'],
    registers: [r],
    collect() {
      this.reset();
      each((s) => this.set({ station: s.station }, s.state === 'up' ? 1 : 0));
    },
  });
  new client.Gauge({
    name: 'ribstorm_bmp_send_queue_bytes',
    help: 'Octets queued for the BMP station and not yet taken by the socket',
    labelNames: ['station'],
    registers: [r],
    collect() {
      this.reset();
      each((s) => this.set({ station: s.station }, s.backlog));
    },
  });
  const counter = (name: string, help: string, pick: (s: StationStatus) => number) =>
    new client.Counter({
      name,
      help,
      labelNames: ['station'],
      registers: [r],
      collect() {
        this.reset();
        each((s) => this.inc({ station: s.station }, pick(s)));
      },
    });
  counter('ribstorm_bmp_messages_sent_total', 'BMP messages handed to the station connection', (s) => s.counters.messages);
  counter('ribstorm_bmp_sent_bytes_total', 'Octets of BMP messages handed to the station connection', (s) => s.counters.bytes);
  counter('ribstorm_bmp_dropped_messages_total', 'BMP messages dropped because the send buffer was full (each closed the connection)', (s) => s.counters.dropped);
  counter('ribstorm_bmp_dropped_bytes_total', 'Octets dropped with them, including what was still queued', (s) => s.counters.droppedBytes);
  counter('ribstorm_bmp_connections_total', 'Connections made to the station', (s) => s.counters.connects);
  counter('ribstorm_bmp_reconnects_total', 'Failed connection attempts and lost connections, each followed by a reconnect', (s) => s.counters.reconnects);
}
