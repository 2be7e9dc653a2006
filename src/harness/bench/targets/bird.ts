// BIRD 2 (Debian's bird2) as a target: its config, command line and readiness through birdc.

import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChildTarget } from './child.js';
import { runDir } from './proc.js';
import type { TargetOptions } from './types.js';

const BIRD = '/usr/sbin/bird';
const BIRDC = '/usr/sbin/birdc';

export function birdAvailable(): boolean {
  return existsSync(BIRD) && existsSync(BIRDC);
}

export class BirdTarget extends ChildTarget {
  readonly name = 'bird';
  private readonly dir = runDir('bird');

  constructor(private readonly o: TargetOptions) {
    super();
  }

  override async stop(): Promise<void> {
    await super.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private config(): string {
    const peers = this.o.peers
      .map((p, i) => `protocol bgp p${i} from feed { neighbor ${p.address} as ${p.asn}; }`)
      .join('\n');
    // Loopback peers are multihop for BIRD; their next hops resolve through a side table with
    // a default route via lo. BIRD's own best-path defaults; next hop self towards everyone.
    return `router id ${this.o.routerId};
protocol device { }
ipv4 table igp4;
protocol static igp_v4 { ipv4 { table igp4; }; route 0.0.0.0/0 via "lo"; }
template bgp feed {
  local ${this.o.address} port ${this.o.port} as ${this.o.asn};
  strict bind yes;
  multihop;
  passive yes;
  ipv4 { import all; export all; igp table igp4; next hop self; };
}
${peers}
`;
  }

  start(): Promise<void> {
    const file = join(this.dir, 'bird.conf');
    writeFileSync(file, this.config());
    const sock = join(this.dir, 'bird.ctl');
    this.launch(BIRD, ['-f', '-c', file, '-s', sock, '-P', join(this.dir, 'bird.pid')]);
    // BIRD prints nothing when it starts well: ask its control socket.
    const up = () => /Daemon is up and running/.test(spawnSync(BIRDC, ['-s', sock, 'show', 'status'], { encoding: 'utf8', timeout: 2000 }).stdout ?? '');
    return this.until(up, 10_000);
  }
}
