// pmacct's BMP collector (Debian's pmacct: `pmbmpd` 1.7.x) as a station for ribstorm's BMP
// exporter: its config in its own run directory, listening on a loopback address and a port
// found free at run time, every BMP message it gets written as one JSON object per line to its
// message log; and that log read back into what the station holds (bmpOutput.ts).
// pmbmpd only acts on SIGTERM when a message wakes it, so stop() gives it a short grace before
// SIGKILL (the process layer's stop, by its pid).

import { join } from 'node:path';
import { notInstalled } from './daemon.js';
import { DaemonProcess, freePort, hasBinary, runDir, type Placement } from './proc.js';
import { readBmpLog, type BmpLogEvent } from './bmpOutput.js';

export { stationTables, type StationRoute } from './bmpOutput.js';

export const PACKAGE = 'pmacct';

export function unavailable(): string | null {
  return hasBinary('pmbmpd') ? null : notInstalled(PACKAGE);
}

/** pmbmpd's config: where it listens, where it logs, and its message log as JSON. */
export function pmbmpdConfig(at: Placement, msglog: string): string {
  return [
    `bmp_daemon_ip: ${at.address}`,
    `bmp_daemon_port: ${at.port}`,
    'bmp_daemon_max_peers: 8',
    `bmp_daemon_msglog_file: ${msglog}`,
    'bmp_daemon_msglog_output: json',
    `logfile: ${join(at.runDir, 'pmbmpd.log')}`,
    `pidfile: ${join(at.runDir, 'pmbmpd.pid')}`,
    '',
  ].join('\n');
}

export class Pmbmpd extends DaemonProcess {
  readonly msglog: string;

  private constructor(at: Placement) {
    super('pmbmpd', at, join(at.runDir, 'pmbmpd.out'));
    this.msglog = join(at.runDir, 'bmp.json');
  }

  /** Starts pmbmpd on `address` (a port found free) in a fresh run directory; resolves once it listens. */
  static async start(address = '127.0.0.1'): Promise<Pmbmpd> {
    const at: Placement = { runDir: runDir('pmbmpd'), address, port: await freePort(address) };
    const d = new Pmbmpd(at);
    const conf = d.file('pmbmpd.conf', pmbmpdConfig(at, d.msglog));
    await d.launch('pmbmpd', ['-f', conf], { what: `pmbmpd listening on ${address}:${at.port}`, until: () => d.listening() });
    return d;
  }

  get address(): string {
    return this.at.address;
  }

  get port(): number {
    return this.at.port;
  }

  get runDirectory(): string {
    return this.at.runDir;
  }

  /** Every message logged so far, in order. */
  events(): BmpLogEvent[] {
    return readBmpLog(this.msglog);
  }

  override async stop(graceMs = 1000): Promise<void> {
    await super.stop(graceMs);
  }
}
