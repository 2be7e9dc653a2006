// ExaBGP 4.2 (Debian 12 `exabgp`) driver.
//
// ExaBGP keeps no RIB, and its CLI (`show neighbor extensive`) gives capabilities only as
// enabled/disabled and no NOTIFICATIONs. So a small helper process (ExaBGP's "API process")
// appends every JSON event ExaBGP emits (fsm/state changes, OPENs sent and received,
// NOTIFICATIONs, KEEPALIVEs, UPDATEs) to events.jsonl in the run dir, and session() reads that
// log incrementally. Commands go through ExaBGP's CLI module over named pipes in the run dir.
//
// Behaviour of 4.2.21 worth knowing (checked against the source and a live BIRD peer):
// - `neighbor X teardown 2` is the only way to make it send a Cease. The NOTIFICATION is 6/2 with
//   the fixed RFC 8203 shutdown communication "Administrative Shutdown": no custom text is
//   possible. ExaBGP then reconnects at once (active) / accepts again (passive).
// - When it has advertised graceful-restart, teardown (and SIGTERM) closes the TCP session
//   WITHOUT any NOTIFICATION (its reading of RFC 4724), so graceful restart is off by default and
//   shutdownPeer() refuses to run with it on.
// - It cannot receive a shutdown communication: under Python 3 decoding any Cease 6/2 or 6/4 with
//   non-empty data throws, and it answers with NOTIFICATION 1/0 'can not decode update message of
//   type "3"' (that is then lastError). Cease without data decodes fine.
// - A peer's ROUTE-REFRESH after enhanced route refresh was negotiated makes it drop the session
//   (TypeError while queueing BoRR/EoRR, upstream issue #1237) when it has routes to resend.
// - SIGTERM: closes every session without a NOTIFICATION, then exits.
// - As root it always drops privileges to exabgp.daemon.user (default `nobody`), which then cannot
//   write to the run dir: we set that user to ourselves.
// - exabgp.tcp.port is also the port it connects to unless the neighbor says `connect PORT`.
import { execFileSync } from 'node:child_process';
import { errorName } from '../../../src/packet/index.js';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { capabilityNameByCode, notInstalled, type CapabilityName, type Daemon, type DaemonOptions, type SessionView } from '../daemon.js';
import { hasBinary, isListening, runCli, signalGroup, startDetached, stopGroup, waitFor, type Started } from './proc.js';
import { extendedCommunityFromValue, normaliseRoute, type RouteView } from '../routeView.js';

export interface ExabgpExtras {
  /**
   * Advertise graceful-restart (restart time 120 s). Off by default: with it, ExaBGP 4.2 tears
   * sessions down without a NOTIFICATION, so shutdownPeer() cannot work.
   */
  gracefulRestart?: boolean;
  /** Lines for the neighbor's `static { }` block, e.g. 'route 198.51.100.0/24 next-hop 198.18.0.1'. */
  staticRoutes?: string[];
}

export interface ExabgpDaemon extends Daemon {
  readonly name: 'exabgp';
  /** ms-epoch times (ExaBGP's clock) of every KEEPALIVE received from the neighbor. */
  keepaliveTimes(): Promise<number[]>;
  /**
   * The lines ExaBGP's API wrote, one JSON object each, verbatim: its whole view of the session,
   * UPDATEs included. Not always strict JSON (down reasons may hold raw control bytes).
   */
  readonly eventsFile: string;
  /** Runs an ExaBGP API command through its CLI, e.g. ('announce', 'route', '198.51.100.0/24', ...). */
  command(...words: string[]): Promise<string>;
  /** Routes received from the neighbor, IPv4 unless 'ipv6': the UPDATEs in the event log replayed. */
  receivedRoutes(family?: 'ipv4' | 'ipv6'): Promise<RouteView[]>;
}

/** ExaBGP runs unprivileged too (as root it switches to exabgp.daemon.user, set to ourselves). */
export function unavailable(): string | null {
  return hasBinary('exabgp') && hasBinary('mkfifo') ? null : notInstalled('exabgp');
}

export function available(): boolean {
  return unavailable() === null;
}

/** Next hops for routes announced through command() (the other drivers' convention: not 127/8). */
export function nextHops(address: string): { ipv4: string; ipv6: string } {
  const [, , b, c] = address.split('.');
  return { ipv4: `198.18.${b}.${c}`, ipv6: `2001:db8::${b}:${c}` };
}

// The API process: appends ExaBGP's JSON lines to a file. It must keep its stdout open (ExaBGP
// takes a hang-up there for the helper dying and, after five respawns, exits).
const HELPER = `import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
const file = process.argv[2];
appendFileSync(file, '');
createInterface({ input: process.stdin })
  .on('line', (line) => appendFileSync(file, line + '\\n'))
  .on('close', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
`;

// ExaBGP's config tokeniser splits on these; keep paths and route lines free of surprises.
const UNSAFE_PATH = /[\s;{}#,[\]"']/;

export function create(opts: DaemonOptions, extras: ExabgpExtras = {}): ExabgpDaemon {
  const runDir = opts.runDir;
  const pipeName = `exabgp-${opts.address}`;
  const confFile = join(runDir, 'exabgp.conf');
  const logFile = join(runDir, 'exabgp.log');
  const helperFile = join(runDir, 'api-helper.mjs');
  const eventsFile = join(runDir, 'events.jsonl');
  const gracefulRestart = extras.gracefulRestart ?? false;
  let log = new EventLog(eventsFile);
  let proc: Started | undefined;

  const env = (): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = {};
    // Never inherit a parent's exabgp settings (nor exabgp_cli_pipe, which turns exabgp into its CLI helper).
    for (const [k, v] of Object.entries(process.env)) if (!/^exabgp[._]/i.test(k)) e[k] = v;
    return {
      ...e,
      'exabgp.tcp.bind': opts.address,
      'exabgp.tcp.port': String(opts.port),
      'exabgp.daemon.daemonize': 'false',
      'exabgp.daemon.user': userInfo().username,
      'exabgp.log.destination': 'stdout',
      'exabgp.log.level': 'INFO',
      'exabgp.api.cli': 'true',
      'exabgp.api.pipename': pipeName,
      // The CLI waits for an ack; without it it hangs after the answer.
      'exabgp.api.ack': 'true',
    };
  };

  const cli = async (...command: string[]): Promise<string> => {
    // The CLI finds the pipes under --root/run/ by name; env(1) passes the dotted variable names.
    const e = env();
    const vars = ['exabgp.api.pipename', 'exabgp.api.ack'].map((k) => `${k}=${e[k]}`);
    const r = await runCli('env', [...vars, 'exabgp', '--run', 'cli', '--root', runDir, ...command], 10_000);
    const out = r.stdout.trim();
    // It exits 0 on most failures, reporting them on stdout (pipes) or stderr (ExaBGP's answer).
    if (r.code !== 0 || /could not|not running/i.test(out) || /error|aborted|no end of command/i.test(r.stderr)) {
      throw new Error(`exabgp cli ${command.join(' ')} failed (${r.code}): ${`${out}\n${r.stderr}`.trim()}`);
    }
    return out;
  };

  const config = (): string => {
    const p = opts.peer;
    const routes = extras.staticRoutes ?? [];
    return `process events {
  run ${process.execPath} ${helperFile} ${eventsFile};
  encoder json;
}

neighbor ${p.address} {
  router-id ${opts.routerId};
  local-address ${opts.address};
  local-as ${opts.asn};
  peer-as ${p.asn};
  hold-time ${p.holdTime};
  passive ${p.passive ? 'true' : 'false'};
  connect ${p.port};
  family {
    ipv4 unicast;
    ipv6 unicast;
  }
  capability {
    # route-refresh also advertises enhanced route refresh (capability 70)
    route-refresh;
    asn4 enable;
    extended-message enable;
${gracefulRestart ? '    graceful-restart 120;\n' : ''}  }
  api {
    processes [ events ];
    neighbor-changes;
    negotiated;
    fsm;
    # no refresh: 4.2 writes malformed JSON for ROUTE-REFRESH messages
    receive { parsed; open; notification; update; keepalive; }
    send { parsed; open; notification; }
  }
${routes.length ? `  static {\n${routes.map((r) => `    ${r.replace(/;\s*$/, '')};\n`).join('')}  }\n` : ''}}
`;
  };

  const running = (): Started => {
    if (!proc) throw new Error('exabgp: not started');
    return proc;
  };

  const daemon: ExabgpDaemon = {
    name: 'exabgp',
    eventsFile,
    get pid(): number {
      return running().pid;
    },

    async start(): Promise<void> {
      if (proc && !proc.hasExited()) throw new Error('exabgp: already running');
      if (UNSAFE_PATH.test(runDir) || UNSAFE_PATH.test(process.execPath)) {
        throw new Error(`exabgp: path unusable in an ExaBGP config: ${runDir} / ${process.execPath}`);
      }
      mkdirSync(join(runDir, 'run'), { recursive: true });
      for (const end of ['in', 'out']) {
        const fifo = join(runDir, 'run', `${pipeName}.${end}`);
        if (!existsSync(fifo)) execFileSync('mkfifo', ['-m', '600', fifo]);
      }
      writeFileSync(helperFile, HELPER, { mode: 0o755 });
      writeFileSync(confFile, config());
      // A restart in the same run dir starts a fresh view of the session.
      rmSync(eventsFile, { force: true });
      log = new EventLog(eventsFile);
      const logStart = readLog().length;
      proc = startDetached('exabgp', ['--root', runDir, confFile], { cwd: runDir, logFile, env: env() });
      const p = proc;
      try {
        // The helper creates the events file once ExaBGP has loaded the config and forked it,
        // which happens after it bound its listening socket.
        // (A condition that is true once ExaBGP has exited ends the wait at once; checked below.)
        await waitFor(
          'exabgp to load its config and start its API helper',
          () => p.hasExited() || (existsSync(eventsFile) && /loaded new configuration successfully/.test(readLog().slice(logStart))),
          15_000,
        );
        // It listens on exabgp.tcp.bind / exabgp.tcp.port for every neighbor, passive or not.
        await waitFor(`exabgp listening on ${opts.address}:${opts.port}`, () => p.hasExited() || isListening(opts.address, opts.port), 10_000);
        if (p.hasExited()) throw new Error('exabgp exited while starting');
      } catch (err) {
        await stopGroup(p).catch(() => undefined);
        proc = undefined;
        throw new Error(`${(err as Error).message}\n--- ${logFile} ---\n${readLog().slice(-3000)}`);
      }
    },

    async session(): Promise<SessionView> {
      log.poll();
      const s = log.state;
      const alive = proc !== undefined && !proc.hasExited();
      const state = alive ? s.fsm : 'IDLE';
      return {
        established: state === 'ESTABLISHED',
        state,
        localCapabilities: s.sentOpen ? capabilities(s.sentOpen) : null,
        remoteCapabilities: s.receivedOpen ? capabilities(s.receivedOpen) : null,
        holdTime:
          s.sentOpen && s.receivedOpen ? Math.min(s.sentOpen.hold_time, s.receivedOpen.hold_time) : null,
        lastError: s.lastError,
      };
    },

    // ExaBGP cannot put `text` on the wire: teardown 2 sends Cease/Administrative Shutdown with
    // the fixed shutdown communication "Administrative Shutdown".
    async shutdownPeer(_text: string): Promise<void> {
      running();
      if (gracefulRestart) {
        throw new Error(
          'exabgp: with graceful-restart advertised, ExaBGP 4.2 closes the session without a NOTIFICATION; ' +
            'create the driver with gracefulRestart: false to test shutdown communications',
        );
      }
      log.poll();
      const before = log.state.ceasesSent;
      await cli('neighbor', opts.peer.address, 'teardown', '2');
      // teardown only acts on an established session and says nothing otherwise: check it did.
      await waitFor('exabgp to send Cease/Administrative Shutdown', () => {
        log.poll();
        return log.state.ceasesSent > before;
      });
    },

    pause(): void {
      signalGroup(running().pid, 'SIGSTOP');
    },

    resume(): void {
      signalGroup(running().pid, 'SIGCONT');
    },

    async stop(): Promise<void> {
      if (!proc) return;
      const p = proc;
      // ExaBGP puts its API processes in process groups of their own: remember them.
      const children = childPids(p.pid);
      await stopGroup(p);
      // On SIGTERM ExaBGP ends them itself, and after a SIGKILL their stdin closes; make sure.
      await waitFor('exabgp helpers to exit', () => children.every((c) => !alive(c)), 3_000, 50).catch(() => {
        for (const c of children) {
          try {
            process.kill(c, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
      });
      log.poll();
    },

    command(...words: string[]): Promise<string> {
      running();
      return cli(...words);
    },

    async receivedRoutes(family: 'ipv4' | 'ipv6' = 'ipv4'): Promise<RouteView[]> {
      let text = '';
      try {
        text = readFileSync(eventsFile, 'utf8');
      } catch {
        // not started yet
      }
      return routesFromEvents(text, family);
    },

    async keepaliveTimes(): Promise<number[]> {
      log.poll();
      return [...log.state.keepalives];
    },

    async keepalivesReceived(): Promise<number> {
      log.poll();
      return log.state.keepalives.length;
    },
  };

  function readLog(): string {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  }

  return daemon;
}

// ---------------------------------------------------------------------------------------------
// The API event log

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

class EventLog {
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
    if (!line.startsWith('{') || line.includes('"type": "update"')) return;
    let ev: ExaEvent;
    try {
      // Down reasons can hold raw control bytes (e.g. a shutdown communication's length byte).
      ev = JSON.parse(line.replace(/[\x00-\x1f]/g, ' ')) as ExaEvent;
    } catch {
      return;
    }
    const n = ev.neighbor;
    if (!n) return; // e.g. ExaBGP's own { "notification": "shutdown" } on exit
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
    if (!line.startsWith('{')) continue;
    let ev: UpdateEvent;
    try {
      ev = JSON.parse(line.replace(/[\x00-\x1f]/g, ' ')) as UpdateEvent;
    } catch {
      continue;
    }
    const n = ev.neighbor;
    if (!n) continue;
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

// ---------------------------------------------------------------------------------------------
// Processes

/** Pids whose parent is `pid` (Linux /proc). */
function childPids(pid: number): number[] {
  let out: string;
  try {
    out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there are none
  }
  return out
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
