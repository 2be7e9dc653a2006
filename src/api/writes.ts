// What the API may change, behind a token (`[api] token` or RIBSTORM_API_TOKEN; without one
// every write is refused): routes announced and withdrawn in bulk, and neighbors enabled,
// disabled, reset and soft reset in either direction; the configuration file read again and
// applied. A bad request changes nothing.
//
//   POST /routes                     {"routes": [{"prefix": …, "next-hop": …, "as-path": […], …}]}
//   POST /routes/withdraw            {"prefixes": ["192.0.2.0/24", …]}
//   POST /neighbors/{address}/{enable|disable|reset|soft-reset-in|soft-reset-out}
//                                    optional {"message": "…"} (RFC 9003), {"family": "ipv6-unicast"}
//   POST /config/reload              {added, removed, reset, softReset, inPlace, unchanged[, error, field]}

import { timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../config/fields.js';
import type { Neighbor } from '../neighbor/neighbor.js';
import { parseLocalRoute } from '../speaker/localRoutes.js';
import type { ReloadReport } from '../speaker/reload.js';
import type { Speaker } from '../speaker/speaker.js';
import { ApiError, json, type ApiRequest, type Reply } from './transport.js';

const ACTIONS = ['enable', 'disable', 'reset', 'soft-reset-in', 'soft-reset-out'] as const;

function body(req: ApiRequest, allowed: string[]): Record<string, unknown> {
  if (req.body.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(req.body.toString('utf8'));
  } catch (e) {
    throw new ApiError(400, 'body', `not JSON (${(e as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ApiError(400, 'body', 'expected a JSON object');
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new ApiError(400, k, `unknown field (expected ${allowed.join(', ')})`);
  return v as Record<string, unknown>;
}

/** A config-style error (field named) as the API's 400. */
function checked<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ConfigError) throw new ApiError(400, e.field, e.message.slice(e.field.length + 2));
    throw e;
  }
}

export class Writes {
  constructor(
    private readonly speaker: Speaker,
    private readonly token: string | undefined,
    /** Reads the configuration again and applies it (../speaker/reload.ts); absent: refused. */
    private readonly reload?: () => Promise<ReloadReport>,
  ) {}

  /** Whether the request is a write this room answers. */
  static owns(req: ApiRequest, path: string): boolean {
    return req.method !== 'GET' && req.method !== 'HEAD' && (path === '/routes' || path === '/routes/withdraw' || path === '/config/reload' || /^\/neighbors\/[^/]+\/[a-z-]+$/.test(path));
  }

  private authorize(req: ApiRequest): void {
    if (!this.token) throw new ApiError(403, 'token', 'writes are off: set [api] token or RIBSTORM_API_TOKEN to allow them');
    const given = req.header('authorization')?.replace(/^Bearer\s+/i, '') ?? req.header('x-api-token') ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(this.token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new ApiError(401, 'token', 'missing or wrong (Authorization: Bearer TOKEN)');
  }

  async handle(req: ApiRequest, path: string): Promise<Reply> {
    if (req.method !== 'POST') throw new ApiError(405, 'method', `${path} takes POST, not ${req.method}`);
    this.authorize(req);
    if (path === '/routes') return this.announce(req);
    if (path === '/routes/withdraw') return this.withdraw(req);
    if (path === '/config/reload') return this.reloadConfig(req);
    const [, , address, action] = path.split('/');
    const n = this.speaker.neighbors.get(decodeURIComponent(address));
    if (!n) throw new ApiError(404, 'address', `no neighbor ${JSON.stringify(decodeURIComponent(address))}`);
    if (!(ACTIONS as readonly string[]).includes(action)) throw new ApiError(404, 'action', `expected one of ${ACTIONS.join(', ')}, got ${JSON.stringify(action)}`);
    return this.neighbor(n, action as (typeof ACTIONS)[number], body(req, ['message', 'family']));
  }

  /** 200 with what was done; a refused reload 400 (or 409: no file to read) with the field named. */
  private async reloadConfig(req: ApiRequest): Promise<Reply> {
    body(req, []);
    if (!this.reload) throw new ApiError(409, 'config', 'this server cannot reload a configuration');
    const r = await this.reload();
    return json(r.error === undefined ? 200 : r.field === 'config' ? 409 : 400, r);
  }

  private local() {
    const local = this.speaker.local;
    if (this.speaker.rib?.collector) throw new ApiError(409, 'rib.mode', 'collector mode originates and advertises nothing');
    if (!local) throw new ApiError(409, 'rib', 'this speaker runs without a RIB');
    return local;
  }

  private async announce(req: ApiRequest): Promise<Reply> {
    const local = this.local();
    const b = body(req, ['routes']);
    if (!Array.isArray(b.routes) || b.routes.length === 0) throw new ApiError(400, 'routes', 'expected a non-empty list of routes');
    const routerId = this.speaker.config.global.routerId;
    const seen = new Map();
    const routes = checked(() => (b.routes as unknown[]).map((r, i) => parseLocalRoute(r, `routes[${i}]`, routerId, seen)));
    return json(200, await checked(() => local.announce(routes)));
  }

  private async withdraw(req: ApiRequest): Promise<Reply> {
    const local = this.local();
    const b = body(req, ['prefixes']);
    if (!Array.isArray(b.prefixes) || b.prefixes.length === 0) throw new ApiError(400, 'prefixes', 'expected a non-empty list of prefixes');
    const prefixes = b.prefixes as string[];
    // Every prefix is checked before anything is withdrawn.
    return json(200, await checked(() => local.withdraw(prefixes, 'prefixes')));
  }

  private neighbor(n: Neighbor, action: (typeof ACTIONS)[number], b: Record<string, unknown>): Reply {
    const message = b.message;
    if (message !== undefined && (typeof message !== 'string' || Buffer.byteLength(message) > 255)) throw new ApiError(400, 'message', 'expected a shutdown communication of at most 255 octets (RFC 9003)');
    const family = b.family ?? undefined;
    if (family !== undefined && family !== 'ipv4-unicast' && family !== 'ipv6-unicast') throw new ApiError(400, 'family', `expected ipv4-unicast or ipv6-unicast, got ${JSON.stringify(family)}`);
    const families = family ? [family as string] : (n.session?.families ?? []);
    switch (action) {
      case 'enable':
        if (n.adminUp) return json(200, { neighbor: n.config.address, action, changed: false });
        n.start();
        break;
      case 'disable':
        n.stop(message as string | undefined);
        break;
      case 'reset':
        n.clear(message as string | undefined);
        break;
      case 'soft-reset-in':
      case 'soft-reset-out': {
        const done = families.filter((f) => (action === 'soft-reset-in' ? n.requestRefresh(f) : n.resendTable(f)));
        if (done.length === 0) {
          throw new ApiError(409, 'address', action === 'soft-reset-in' ? 'the session is not up, or the peer did not announce route refresh' : 'the session is not up');
        }
        return json(200, { neighbor: n.config.address, action, families: done });
      }
    }
    return json(200, { neighbor: n.config.address, action, state: n.state, adminState: n.adminUp ? 'up' : 'down' });
  }
}
