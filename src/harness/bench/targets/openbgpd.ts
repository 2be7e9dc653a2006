// OpenBGPD (Debian's openbgpd) as a target: its config, command line and readiness through
// bgpctl. Its three forked children stay in its process group and are measured with it.

import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GroupTarget } from './child.js';
import { cliOk } from './proc.js';
import type { TargetOptions, TargetPeer } from './types.js';

// Debian's paths; FRR's daemon is called bgpd too.
const BGPD = '/usr/sbin/bgpd';
const BGPCTL = '/usr/sbin/bgpctl';

export function openbgpdAvailable(): boolean {
  return existsSync(BGPD) && existsSync(BGPCTL);
}

export class OpenBgpdTarget extends GroupTarget {
  readonly name = 'openbgpd';
  private readonly socket = join(this.dir, 'bgpd.sock');

  constructor(protected readonly o: TargetOptions) {
    super('openbgpd');
  }

  private config(): string {
    const [sink, ...senders] = this.o.peers;
    const neighbor = (p: TargetPeer, extra = '') => `neighbor ${p.address} {
  remote-as ${p.asn}
  local-address ${this.o.address}
  multihop 2
  passive${extra}
}`;
    // Loopback peers are multihop (as for BIRD); 198.18.0.0/15 next hops are covered only by
    // the host's default route, hence `nexthop qualify via default`. OpenBGPD's best-path
    // defaults; its filters deny by default, so allow everything both ways.
    return `AS ${this.o.asn}
router-id ${this.o.routerId}
socket "${this.socket}"
listen on ${this.o.address} port ${this.o.port}
fib-update no
nexthop qualify via default

${neighbor(sink, '\n  set nexthop self')}
${senders.map((p) => neighbor(p)).join('\n')}

allow from any
allow to any
`;
  }

  start(): Promise<void> {
    const file = join(this.dir, 'bgpd.conf');
    writeFileSync(file, this.config());
    chmodSync(file, 0o600); // bgpd refuses group- or world-readable configs
    mkdirSync('/run/openbgpd', { recursive: true }); // its children chroot there
    // -d: foreground, log to stderr; the children stay in bgpd's process group.
    this.launch(BGPD, ['-d', '-f', file]);
    return this.ready(() => cliOk(BGPCTL, ['-s', this.socket, 'show', 'summary']).ok);
  }
}
