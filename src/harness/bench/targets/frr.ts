// FRR's bgpd (Debian's frr) as a target, without zebra: its config, command line and readiness
// through vtysh.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GroupTarget } from './child.js';
import { cliOk } from './proc.js';
import type { TargetOptions } from './types.js';

// Debian's paths; OpenBGPD's daemon is called bgpd too.
const BGPD = '/usr/lib/frr/bgpd';
const VTYSH = '/usr/bin/vtysh';

export function frrAvailable(): boolean {
  return existsSync(BGPD) && existsSync(VTYSH);
}

export class FrrTarget extends GroupTarget {
  readonly name = 'frr';

  constructor(protected readonly o: TargetOptions) {
    super('frr');
  }

  private config(): string {
    const sink = this.o.peers[0];
    const session = this.o.peers
      .map((p) => {
        const n = ` neighbor ${p.address}`;
        // No zebra (-Z) means no interface data: loopback peers are not "connected" without
        // disable-connected-check.
        return `${n} remote-as ${p.asn}\n${n} update-source ${this.o.address}\n${n} disable-connected-check\n${n} passive`;
      })
      .join('\n');
    const activate = this.o.peers.map((p) => `  neighbor ${p.address} activate`).join('\n');
    // FRR's own best-path defaults (traditional profile, as Debian builds it): no
    // deterministic-med, no compare-routerid. RFC 8212's default deny is lifted.
    return `frr defaults traditional
hostname ribstorm-bench
log stdout warnings
!
router bgp ${this.o.asn}
 bgp router-id ${this.o.routerId}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
${session}
 !
 address-family ipv4 unicast
${activate}
  neighbor ${sink.address} next-hop-self
 exit-address-family
!
`;
  }

  start(): Promise<void> {
    // bgpd binds RUNDIR/bgpd.vty; sun_path holds 108 bytes.
    if (join(this.dir, 'bgpd.vty').length > 107) throw new Error(`frr: run directory too long for a socket: ${this.dir}`);
    const file = join(this.dir, 'bgpd.conf');
    writeFileSync(file, this.config());
    writeFileSync(join(this.dir, 'vtysh.conf'), ''); // so vtysh never reads /etc/frr
    // -Z: no zebra, nothing reaches the kernel; -S: stay root; -P 0: only the unix vty socket.
    this.launch(BGPD, [
      '-Z', '-S', '-l', this.o.address, '-p', String(this.o.port), '-f', file,
      '-i', join(this.dir, 'bgpd.pid'), '--vty_socket', this.dir, '-P', '0',
    ]);
    const vtysh = ['--config_dir', this.dir, '--vty_socket', this.dir, '-d', 'bgpd', '-c', 'show bgp summary json'];
    return this.ready(() => cliOk(VTYSH, vtysh).ok);
  }
}
