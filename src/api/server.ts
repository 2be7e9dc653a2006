// The management plane: one HTTP/WebSocket server (uWebSockets.js, or node:http and `ws` when
// the native module cannot load or RIBSTORM_NATIVE=0) serving the routes below from the
// speaker's state and the shared RIB, without slowing the pipeline.
//
//   GET /neighbors              FRR `show bgp summary json` shape
//   GET /neighbors/{address}    one peer in detail
//   GET /rib?prefix=P&match=exact|longest|longer&family=ipv4|ipv6&peer=ADDR&format=json|ndjson
//   GET /rib?family=…&peer=…    the whole table, NDJSON, streamed from shared memory
//   GET /rib/summary            prefixes, paths, attribute sets, bytes per family
//   GET /metrics                Prometheus text
//   GET /mrt/bview?compress=…   the RIB as an MRT TABLE_DUMP_V2 dump, streamed (../mrt/)
//   POST /routes, /routes/withdraw, /neighbors/{address}/{action}, /config/reload: writes (./writes.ts)
//   WS  /stream                 RIS Live subscribe / ris_message (./stream.ts)
//   GET /, /ui/*                the status page (./dashboard.ts)

import { log } from '../log.js';
import { available, COMPRESSIONS, pipeCompressed, type Compression } from '../mrt/output.js';
import { speakerSource, writeTableDump } from '../mrt/tableDump.js';
import type { ReloadReport } from '../speaker/reload.js';
import type { Speaker } from '../speaker/speaker.js';
import type { StationStatus } from '../bmp/exporter.js';
import { Dashboard } from './dashboard.js';
import { Metrics } from './metrics.js';
import { NeighborView } from './neighborView.js';
import { nodeTransport } from './nodeHttp.js';
import { parseFamily, RibView, type Match } from './ribView.js';
import { RouteStream } from './stream.js';
import { ApiError, json, type ApiRequest, type Routed, type Transport, type TransportOptions } from './transport.js';
import { loadUws, uwsTransport } from './uws.js';
import { Writes } from './writes.js';

export interface ApiOptions {
  /** Force node:http and `ws` (also RIBSTORM_NATIVE=0). */
  native?: boolean;
  /** Writes need it; without one they are refused. */
  token?: string;
  /** What one stream client may have queued before it is cut off (default 16 MiB). */
  streamBufferBytes?: number;
  /** The BMP stations' figures, for /metrics (none without). */
  bmp?: () => StationStatus[];
  /** POST /config/reload: reads the configuration again and applies it. */
  reload?: () => Promise<ReloadReport>;
}

export class ApiServer {
  readonly neighbors: NeighborView;
  readonly rib: RibView | null;
  readonly metrics: Metrics;
  private readonly writes: Writes;
  private readonly dashboard = new Dashboard();
  readonly stream: RouteStream | null;
  private transport: Transport | null = null;

  /** Construct before `speaker.start()`: the neighbor log must see every transition. */
  constructor(
    private readonly speaker: Speaker,
    private readonly opts: ApiOptions = {},
  ) {
    this.neighbors = new NeighborView(speaker);
    this.rib = speaker.rib ? new RibView(speaker) : null;
    this.writes = new Writes(speaker, opts.token, opts.reload);
    this.stream = this.rib ? new RouteStream(speaker, this.rib, opts.streamBufferBytes) : null;
    this.metrics = new Metrics(speaker, this.neighbors, () => this.rib?.counts() ?? null, opts.bmp);
  }

  /** Which server runs: uWebSockets.js unless told otherwise or it cannot load. */
  get serverName(): Transport['name'] | null {
    return this.transport?.name ?? null;
  }

  /** Listens; resolves with the port bound. */
  async listen(host: string, port: number): Promise<number> {
    const options: TransportOptions = {
      http: (req) => this.route(req),
      socketPath: '/stream',
      socket: this.stream?.handler ?? refuseSockets,
    };
    const native = this.opts.native ?? process.env.RIBSTORM_NATIVE !== '0';
    const uws = native ? loadUws() : null;
    if (uws instanceof Error) log(`management API: uWebSockets.js cannot load here (${uws.message.split('\n')[0]}); serving with node:http and ws`);
    this.transport = uws && !(uws instanceof Error) ? uwsTransport(uws, options) : nodeTransport(options);
    return this.transport.listen(host, port);
  }

  async close(): Promise<void> {
    this.stream?.close();
    await this.transport?.close();
    this.transport = null;
  }

  /** The answer, at once when the route has it (lookups, the summary): the transport then writes it before the request's handler returns. */
  private route(req: ApiRequest): Routed | Promise<Routed> {
    try {
      const r = this.dispatch(req);
      return r instanceof Promise ? r.catch((e) => this.failed(req, e)) : r;
    } catch (e) {
      return this.failed(req, e);
    }
  }

  private failed(req: ApiRequest, e: unknown): Routed {
    if (e instanceof ApiError) return e.reply();
    log(`management API: ${req.method} ${req.path}: ${(e as Error)?.stack ?? String(e)}`);
    return json(500, { error: `internal error: ${(e as Error)?.message ?? String(e)}` });
  }

  private dispatch(req: ApiRequest): Routed | Promise<Routed> {
    const path = req.path.length > 1 ? req.path.replace(/\/+$/, '') : req.path;
    if (Writes.owns(req, path)) return this.writes.handle(req, path);
    const get = (allowed: string[]) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError(405, 'method', `${path} takes GET, not ${req.method}`);
      for (const k of req.query.keys()) if (!allowed.includes(k)) throw new ApiError(400, k, `unknown parameter (expected ${allowed.join(', ') || 'none'})`);
    };
    if (path === '/neighbors') {
      get([]);
      return { status: 200, contentType: 'application/json', body: this.neighbors.summaryJson(this.rib?.counts() ?? null) };
    }
    if (path.startsWith('/neighbors/')) {
      get([]);
      const address = decodeURIComponent(path.slice('/neighbors/'.length));
      const n = this.speaker.neighbors.get(address);
      if (!n) throw new ApiError(404, 'address', `no neighbor ${JSON.stringify(address)}`);
      return json(200, this.neighbors.detail(n));
    }
    if (path === '/rib') {
      get(['prefix', 'match', 'family', 'peer', 'format']);
      return this.ribQuery(req.query);
    }
    if (path === '/rib/summary') {
      get([]);
      if (!this.rib) throw new ApiError(404, 'rib', 'this speaker runs without a RIB');
      return json(200, this.rib.summary());
    }
    if (path === '/metrics') {
      get([]);
      return this.metrics.text().then((body) => ({ status: 200, contentType: this.metrics.contentType, body }));
    }
    if (path === '/mrt/bview') {
      get(['compress']);
      return this.bview(req.query);
    }
    if (Dashboard.owns(path)) {
      get([]);
      return this.dashboard.serve(path);
    }
    throw new ApiError(404, 'path', `no such resource ${JSON.stringify(req.path)} (try /, /neighbors, /rib, /rib/summary, /metrics, /mrt/bview, /stream)`);
  }

  /** GET /mrt/bview: the whole RIB as TABLE_DUMP_V2 (RFC 6396 §4.3), compressed as asked. */
  private bview(q: URLSearchParams): Routed {
    if (!this.rib || !this.speaker.rib) throw new ApiError(404, 'rib', 'this speaker runs without a RIB');
    const compress = (q.get('compress') || 'gzip') as Compression;
    if (!COMPRESSIONS.includes(compress)) throw new ApiError(400, 'compress', `expected ${COMPRESSIONS.join(', ')}, got ${JSON.stringify(q.get('compress'))}`);
    if (!available(compress)) throw new ApiError(400, 'compress', 'bzip2 is not installed on this host (gzip or none)');
    const speaker = this.speaker;
    return {
      status: 200,
      contentType: 'application/octet-stream',
      stream: async (sink) => {
        const started = Date.now();
        const time = Math.floor(started / 1000);
        try {
          const { result, bytes } = await pipeCompressed(compress, sink, (emit) => writeTableDump(speakerSource(speaker, time), time, emit));
          log(`MRT table dump served: ${result.prefixes} prefixes, ${result.paths} paths, ${bytes} bytes (${compress}) in ${((Date.now() - started) / 1000).toFixed(1)}s`);
        } catch (e) {
          log(`MRT table dump cut short: ${(e as Error).message}`);
          sink.abort();
        }
      },
    };
  }

  private ribQuery(q: URLSearchParams): Routed {
    const rib = this.rib;
    if (!rib) throw new ApiError(404, 'rib', 'this speaker runs without a RIB');
    const format = q.get('format') ?? (q.has('prefix') ? 'json' : 'ndjson');
    if (format !== 'json' && format !== 'ndjson') throw new ApiError(400, 'format', `expected json or ndjson, got ${JSON.stringify(format)}`);
    const match = q.get('match') ?? 'exact';
    if (match !== 'exact' && match !== 'longest' && match !== 'longer') throw new ApiError(400, 'match', `expected exact, longest or longer, got ${JSON.stringify(match)}`);
    const family = parseFamily(q.get('family'));
    const peer = rib.peerFilter(q.get('peer'));
    const prefix = q.get('prefix');
    if (prefix === null || prefix === '') {
      if (q.has('match')) throw new ApiError(400, 'match', 'needs a prefix');
      if (format !== 'ndjson') throw new ApiError(400, 'format', 'the whole table comes as ndjson only (add prefix= for one lookup)');
      const families = rib.familiesOf(family);
      return { status: 200, contentType: 'application/x-ndjson', stream: (sink) => rib.streamTable(sink, families, peer) };
    }
    const r = rib.matches(prefix, match as Match, peer);
    if (family && r.routes.some((x) => x.prefix.includes(':') !== (family === 'ipv6'))) throw new ApiError(400, 'family', `${prefix} is not ${family}`);
    if (format === 'ndjson') return { status: 200, contentType: 'application/x-ndjson', body: rib.lookupNdjson(r) };
    return { status: 200, contentType: 'application/json', body: rib.lookupJson(prefix, match as Match, r) };
  }
}

const refuseSockets = {
  open: (p: { close(code: number, reason: string): void }) => p.close(1011, 'no RIB: nothing to stream'),
  message: () => {},
  close: () => {},
};
