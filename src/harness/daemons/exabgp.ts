// ExaBGP 4.2 (Debian 12's exabgp; one neighbor, for the interop tests): its config and
// environment, its API helper and CLI pipes, its command line, and the questions the tests ask.
//
// ExaBGP keeps no RIB, and its CLI (`show neighbor extensive`) gives capabilities only as
// enabled/disabled and no NOTIFICATIONs. So a small helper process (ExaBGP's "API process")
// appends every JSON event ExaBGP emits (fsm/state changes, OPENs sent and received,
// NOTIFICATIONs, KEEPALIVEs, UPDATEs) to events.jsonl in the run dir, and session() reads that
// log incrementally (exabgpEvents.ts). Commands go through ExaBGP's CLI module over named pipes
// in the run dir.
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
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { notInstalled, type Daemon, type DaemonOptions, type SessionView } from './daemon.js';
import { EventLog, routesFromEvents } from './exabgpEvents.js';
import { DaemonProcess, hasBinary, runCli, waitFor } from './proc.js';
import { childPids, pidAlive } from './procfs.js';
import type { RouteView } from './routeView.js';

export { nextHops } from './daemon.js';
export { routesFromEvents } from './exabgpEvents.js';

export const PACKAGE = 'exabgp';

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
  return hasBinary('exabgp') && hasBinary('mkfifo') ? null : notInstalled(PACKAGE);
}

export function available(): boolean {
  return unavailable() === null;
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

/** exabgp.conf: the API helper's process, one neighbor with IPv4 + IPv6 unicast, its static routes. */
export function exabgpConfig(opts: DaemonOptions, files: { helper: string; events: string }, extras: ExabgpExtras = {}): string {
  const p = opts.peer;
  const routes = extras.staticRoutes ?? [];
  return `process events {
  run ${process.execPath} ${files.helper} ${files.events};
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
${extras.gracefulRestart ? '    graceful-restart 120;\n' : ''}  }
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
}

export function create(opts: DaemonOptions, extras: ExabgpExtras = {}): ExabgpDaemon {
  return new Exabgp(opts, extras);
}

class Exabgp extends DaemonProcess implements ExabgpDaemon {
  readonly name = 'exabgp' as const;
  readonly eventsFile: string;
  private readonly pipeName: string;
  private readonly helperFile: string;
  private log: EventLog;

  constructor(
    private readonly opts: DaemonOptions,
    private readonly extras: ExabgpExtras,
  ) {
    super('exabgp', opts, join(opts.runDir, 'exabgp.log'));
    this.pipeName = `exabgp-${opts.address}`;
    this.helperFile = join(opts.runDir, 'api-helper.mjs');
    this.eventsFile = join(opts.runDir, 'events.jsonl');
    this.log = new EventLog(this.eventsFile);
  }

  private env(): NodeJS.ProcessEnv {
    const e: NodeJS.ProcessEnv = {};
    // Never inherit a parent's exabgp settings (nor exabgp_cli_pipe, which turns exabgp into its CLI helper).
    for (const [k, v] of Object.entries(process.env)) if (!/^exabgp[._]/i.test(k)) e[k] = v;
    return {
      ...e,
      'exabgp.tcp.bind': this.opts.address,
      'exabgp.tcp.port': String(this.opts.port),
      'exabgp.daemon.daemonize': 'false',
      'exabgp.daemon.user': userInfo().username,
      'exabgp.log.destination': 'stdout',
      'exabgp.log.level': 'INFO',
      'exabgp.api.cli': 'true',
      'exabgp.api.pipename': this.pipeName,
      // The CLI waits for an ack; without it it hangs after the answer.
      'exabgp.api.ack': 'true',
    };
  }

  private async cli(...command: string[]): Promise<string> {
    // The CLI finds the pipes under --root/run/ by name; env(1) passes the dotted variable names.
    const e = this.env();
    const vars = ['exabgp.api.pipename', 'exabgp.api.ack'].map((k) => `${k}=${e[k]}`);
    const r = await runCli('env', [...vars, 'exabgp', '--run', 'cli', '--root', this.opts.runDir, ...command], 10_000);
    const out = r.stdout.trim();
    // It exits 0 on most failures, reporting them on stdout (pipes) or stderr (ExaBGP's answer).
    if (r.code !== 0 || /could not|not running/i.test(out) || /error|aborted|no end of command/i.test(r.stderr)) {
      throw new Error(`exabgp cli ${command.join(' ')} failed (${r.code}): ${`${out}\n${r.stderr}`.trim()}`);
    }
    return out;
  }

  async start(): Promise<void> {
    const { runDir, address, port } = this.opts;
    if (this.running) throw new Error('exabgp: already running');
    if (UNSAFE_PATH.test(runDir) || UNSAFE_PATH.test(process.execPath)) {
      throw new Error(`exabgp: path unusable in an ExaBGP config: ${runDir} / ${process.execPath}`);
    }
    mkdirSync(join(runDir, 'run'), { recursive: true });
    for (const end of ['in', 'out']) {
      const fifo = join(runDir, 'run', `${this.pipeName}.${end}`);
      if (!existsSync(fifo)) execFileSync('mkfifo', ['-m', '600', fifo]);
    }
    this.file('api-helper.mjs', HELPER, 0o755);
    const conf = this.file('exabgp.conf', exabgpConfig(this.opts, { helper: this.helperFile, events: this.eventsFile }, this.extras));
    // A restart in the same run dir starts a fresh view of the session.
    rmSync(this.eventsFile, { force: true });
    this.log = new EventLog(this.eventsFile);
    const logStart = this.readLog().length;
    // The helper creates the events file once ExaBGP has loaded the config and forked it, which
    // happens after it bound its listening socket; it listens on exabgp.tcp.bind / exabgp.tcp.port
    // for every neighbor, passive or not.
    await this.launch(
      'exabgp',
      ['--root', runDir, conf],
      {
        what: `exabgp to load its config, start its API helper and listen on ${address}:${port}`,
        until: () => existsSync(this.eventsFile) && /loaded new configuration successfully/.test(this.readLog().slice(logStart)) && this.listening(),
        timeoutMs: 25_000,
      },
      this.env(),
    );
  }

  async session(): Promise<SessionView> {
    this.log.poll();
    return this.log.session(this.running);
  }

  // ExaBGP cannot put `text` on the wire: teardown 2 sends Cease/Administrative Shutdown with
  // the fixed shutdown communication "Administrative Shutdown".
  async shutdownPeer(_text: string): Promise<void> {
    void this.pid; // throws when not started
    if (this.extras.gracefulRestart) {
      throw new Error(
        'exabgp: with graceful-restart advertised, ExaBGP 4.2 closes the session without a NOTIFICATION; ' +
          'create the driver with gracefulRestart: false to test shutdown communications',
      );
    }
    this.log.poll();
    const before = this.log.state.ceasesSent;
    await this.cli('neighbor', this.opts.peer.address, 'teardown', '2');
    // teardown only acts on an established session and says nothing otherwise: check it did.
    await waitFor('exabgp to send Cease/Administrative Shutdown', () => {
      this.log.poll();
      return this.log.state.ceasesSent > before;
    });
  }

  override async stop(graceMs?: number): Promise<void> {
    if (!this.proc) return;
    // ExaBGP puts its API processes in process groups of their own: remember them.
    const children = childPids(this.proc.pid);
    await super.stop(graceMs);
    // On SIGTERM ExaBGP ends them itself, and after a SIGKILL their stdin closes; make sure.
    await waitFor('exabgp helpers to exit', () => children.every((c) => !pidAlive(c)), 3_000, 50).catch(() => {
      for (const c of children) {
        try {
          process.kill(c, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    });
    this.log.poll();
  }

  command(...words: string[]): Promise<string> {
    void this.pid; // throws when not started
    return this.cli(...words);
  }

  async receivedRoutes(family: 'ipv4' | 'ipv6' = 'ipv4'): Promise<RouteView[]> {
    let text = '';
    try {
      text = readFileSync(this.eventsFile, 'utf8');
    } catch {
      // not started yet
    }
    return routesFromEvents(text, family);
  }

  async keepaliveTimes(): Promise<number[]> {
    this.log.poll();
    return [...this.log.state.keepalives];
  }

  async keepalivesReceived(): Promise<number> {
    this.log.poll();
    return this.log.state.keepalives.length;
  }
}
