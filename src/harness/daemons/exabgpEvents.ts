// What ExaBGP says about its session, read from the JSON event log its API helper writes
// (exabgp.ts starts both): the FSM state, the OPENs of the current connection (capabilities,
// hold time), the last NOTIFICATION or down reason with any shutdown communication, the
// KEEPALIVEs received, and the Adj-RIB-In its received UPDATEs describe. Pure readers of the
// log's lines; EventLog reads the file incrementally.

import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { errorName } from '../../packet/index.js';
import { capabilityNameByCode, type CapabilityName, type SessionView } from './daemon.js';
import { extendedCommunityFromValue, normaliseRoute, type RouteView } from './routeView.js';

/** One line of the log as JSON, or null. Down reasons can hold raw control bytes (e.g. a shutdown communication's length byte). */
function parseLine<T>(line: string): T | null {
  if (!line.startsWith('{')) return null;
  try {
    return JSON.parse(line.replace(/[\x00-\x1f]/g, ' ')) as T;
  } catch {
    return null;
  }
}

interface OpenJson {
  hold_time: number;
  capabilities: Record<string, { name?: string; families?: string[]; value?: number }>;
}

interface LogState {
  /** ExaBGP's FSM state word (IDLE, ACTIVE, CONNECT, OPENSENT, OPENCONFIRM, ESTABLISHED). */
  fsm: string;
  /** OPENs of the current (or last) connection. */
  sentOpen?: OpenJson;
  receivedOpen?: OpenJson;
  lastError: string;
  notificationSinceConnect: boolean;
  ceasesSent: number;
  keepalives: number[];
}

/** The session as the log has told it so far, read incrementally from the events file. */
export class EventLog {
  readonly state: LogState = {
    fsm: 'IDLE',
    lastError: '',
    notificationSinceConnect: false,
    ceasesSent: 0,
    keepalives: [],
  };
  private offset = 0;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(private readonly file: string) {}

  /** Reads what the helper appended since the last call. */
  poll(): void {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n === 0) break;
        this.offset += n;
        const lines = (this.partial + this.decoder.write(buf.subarray(0, n))).split('\n');
        this.partial = lines.pop() ?? '';
        for (const line of lines) this.apply(line);
      }
    } finally {
      closeSync(fd);
    }
  }

  private apply(line: string): void {
    // UPDATEs can be many and large and say nothing about the session: skip parsing them.
    if (line.includes('"type": "update"')) return;
    const ev = parseLine<ExaEvent>(line);
    const n = ev?.neighbor;
    if (!ev || !n) return; // e.g. ExaBGP's own { "notification": "shutdown" } on exit
    const s = this.state;
    switch (ev.type) {
      case 'fsm':
        if (typeof n.state === 'string') s.fsm = n.state;
        break;
      case 'state':
        if (n.state === 'connected' && s.fsm !== 'ESTABLISHED') {
          s.sentOpen = undefined;
          s.receivedOpen = undefined;
          s.notificationSinceConnect = false;
        } else if (n.state === 'down' && n.reason && !s.notificationSinceConnect) {
          // A connection that never got an OPEN (refused, reset while reconnecting) must not
          // hide the NOTIFICATION that ended the session before it.
          if (s.receivedOpen || !s.lastError || s.lastError.startsWith('session down')) {
            s.lastError = `session down: ${n.reason}`;
          }
        }
        break;
      case 'open':
        if (n.open) {
          if (n.direction === 'send') s.sentOpen = n.open;
          else s.receivedOpen = n.open;
        }
        break;
      case 'notification':
        if (n.notification) {
          const { code, subcode, data } = n.notification;
          const sent = n.direction === 'send';
          s.lastError = describeNotification(sent, Number(code), Number(subcode), data ?? '');
          s.notificationSinceConnect = true;
          if (sent && Number(code) === 6 && Number(subcode) === 2) s.ceasesSent++;
        }
        break;
      case 'keepalive':
        if (n.direction === 'receive') s.keepalives.push(Math.round(ev.time * 1000));
        break;
    }
  }

  /** The session view: `alive` false reads as IDLE whatever the log last said. */
  session(alive: boolean): SessionView {
    const s = this.state;
    const state = alive ? s.fsm : 'IDLE';
    return {
      established: state === 'ESTABLISHED',
      state,
      localCapabilities: s.sentOpen ? capabilities(s.sentOpen) : null,
      remoteCapabilities: s.receivedOpen ? capabilities(s.receivedOpen) : null,
      holdTime: s.sentOpen && s.receivedOpen ? Math.min(s.sentOpen.hold_time, s.receivedOpen.hold_time) : null,
      lastError: s.lastError,
    };
  }
}

interface ExaEvent {
  type: string;
  time: number;
  neighbor?: {
    direction?: 'send' | 'receive';
    state?: string;
    reason?: string;
    open?: OpenJson;
    notification?: { code: number | string; subcode: number | string; data?: string };
  };
}

// ---------------------------------------------------------------------------------------------
// Received routes

interface UpdateEvent {
  type?: string;
  neighbor?: {
    direction?: string;
    state?: string;
    message?: {
      update?: {
        attribute?: {
          'as-path'?: unknown;
          med?: number;
          'local-preference'?: number;
          community?: number[][];
          'large-community'?: number[][];
          'extended-community'?: Array<{ value?: number; string?: string }>;
        };
        announce?: Record<string, Record<string, Array<{ nlri?: string }>>>;
        withdraw?: Record<string, Array<{ nlri?: string }>>;
      };
    };
  };
}

/**
 * The IPv4 (or, with 'ipv6', IPv6) Adj-RIB-In that ExaBGP's JSON event log describes: received
 * UPDATEs applied in order ("announce": {"ipv4 unicast": {NEXT_HOP: [{"nlri": ...}]}},
 * "withdraw": {...}; "ipv6 unicast" likewise), cleared whenever the session goes down.
 */
export function routesFromEvents(text: string, family: 'ipv4' | 'ipv6' = 'ipv4'): RouteView[] {
  const key = `${family} unicast`;
  const rib = new Map<string, RouteView>();
  for (const line of text.split('\n')) {
    const ev = parseLine<UpdateEvent>(line);
    const n = ev?.neighbor;
    if (!ev || !n) continue;
    if (ev.type === 'state' && n.state === 'down') rib.clear();
    const u = ev.type === 'update' && n.direction !== 'send' ? n.message?.update : undefined;
    if (!u) continue;
    for (const w of u.withdraw?.[key] ?? []) if (w.nlri) rib.delete(w.nlri);
    const a = u.attribute ?? {};
    for (const [nextHop, list] of Object.entries(u.announce?.[key] ?? {})) {
      for (const { nlri } of list) {
        if (!nlri) continue;
        rib.set(
          nlri,
          normaliseRoute({
            prefix: nlri,
            asPath: JSON.stringify(a['as-path'] ?? []).match(/\d+/g)?.map(Number) ?? [],
            nextHop,
            med: a.med ?? null,
            localPref: a['local-preference'] ?? null,
            communities: (a.community ?? []).map((c) => c.join(':')),
            largeCommunities: (a['large-community'] ?? []).map((c) => c.join(':')),
            extendedCommunities: (a['extended-community'] ?? []).map((e) =>
              e.string?.startsWith('target:') ? `rt:${e.string.slice(7)}` : extendedCommunityFromValue(e.value ?? 0),
            ),
          }),
        );
      }
    }
  }
  return [...rib.values()];
}

// ---------------------------------------------------------------------------------------------
// Normalisation

// ExaBGP keys the OPEN it sends by capability name and the one it receives by code.
const CODE_BY_EXABGP_NAME: Record<string, number> = {
  multiprotocol: 1,
  'route-refresh': 2,
  nexthop: 5,
  'extended-message': 6,
  'graceful-restart': 64,
  asn4: 65,
  'add-path': 69,
  'enhanced-route-refresh': 70,
  'cisco-route-refresh': 128,
};

function capabilities(open: OpenJson): CapabilityName[] {
  const out = new Set<CapabilityName>();
  for (const [key, cap] of Object.entries(open.capabilities ?? {})) {
    const code = /^\d+$/.test(key) ? Number(key) : (CODE_BY_EXABGP_NAME[key] ?? cap.value);
    if (code === 1) {
      for (const f of cap.families ?? []) out.add(`multiprotocol:${f.replace('/', '-')}`);
    } else {
      out.add(code !== undefined ? capabilityNameByCode(code) : key.toLowerCase().replace(/\s+/g, '-'));
    }
  }
  return [...out];
}

/**
 * E.g. `received Cease / Administrative Shutdown (6/2), shutdown communication "bye"` or
 * `received Hold Timer Expired (4/0)`.
 */
function describeNotification(sent: boolean, code: number, subcode: number, hexData: string): string {
  let text = `${sent ? 'sent' : 'received'} ${errorName(code, subcode)} (${code}/${subcode})`;
  const data = Buffer.from(hexData.replace(/^0x/i, ''), 'hex');
  if (code === 6 && (subcode === 2 || subcode === 4)) {
    const comm = shutdownCommunication(sent, data);
    if (comm !== null) text += `, shutdown communication "${comm}"`;
  } else if (data.length > 0) {
    // ExaBGP passes printable data on as text (its own errors) and hex-encodes the rest.
    const ascii = data.toString('latin1');
    text += /^[\x20-\x7e]+$/.test(ascii) ? `: ${ascii}` : `, data 0x${data.toString('hex')}`;
  }
  return text;
}

/**
 * ExaBGP hands received 6/2 and 6/4 data over already decoded ('Shutdown Communication: "…"'),
 * while what it sends is raw RFC 8203/9003 data: one length byte, then UTF-8.
 */
function shutdownCommunication(sent: boolean, data: Buffer): string | null {
  if (data.length === 0) return null;
  if (!sent) {
    const decoded = data.toString('utf8');
    const m = /^Shutdown Communication: "([\s\S]*)"/.exec(decoded);
    if (m) return m[1];
    if (decoded === 'empty Shutdown Communication.') return '';
    if (decoded.startsWith('invalid Shutdown Communication')) return decoded;
  }
  const len = data[0];
  return data.subarray(1, 1 + len).toString('utf8');
}

