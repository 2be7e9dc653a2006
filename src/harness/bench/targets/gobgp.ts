// GoBGP (Debian's gobgpd) as a target: its config, command line and readiness through the
// gobgp CLI.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GroupTarget } from './child.js';
import { cliOk } from './proc.js';
import type { TargetOptions } from './types.js';

const GOBGPD = '/usr/bin/gobgpd';
const GOBGP = '/usr/bin/gobgp';

export function gobgpAvailable(): boolean {
  return existsSync(GOBGPD) && existsSync(GOBGP);
}

export class GoBgpTarget extends GroupTarget {
  readonly name = 'gobgp';

  constructor(protected readonly o: TargetOptions) {
    super('gobgp');
  }

  private config(): string {
    // eBGP: GoBGP rewrites the next hop to the session's local address towards every peer,
    // the sink included (next hop self). Default import/export policies accept everything.
    const neighbors = this.o.peers
      .map(
        (p) => `
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${p.address}"
    peer-as = ${p.asn}
  [neighbors.transport.config]
    local-address = "${this.o.address}"
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"`,
      )
      .join('\n');
    return `[global.config]
  as = ${this.o.asn}
  router-id = "${this.o.routerId}"
  port = ${this.o.port}
  local-address-list = ["${this.o.address}"]
[global.apply-policy.config]
  default-import-policy = "accept-route"
  default-export-policy = "accept-route"
${neighbors}
`;
  }

  start(): Promise<void> {
    const file = join(this.dir, 'gobgpd.toml');
    writeFileSync(file, this.config());
    // The gRPC API on the target's own address, so it cannot clash with another instance's.
    const api = ['-u', this.o.address, '-p', '50051'];
    this.launch(GOBGPD, ['-f', file, '--api-hosts', `${this.o.address}:50051`, '--pprof-disable']);
    // gobgpd listens before it has added the neighbors from its file: wait until the API lists
    // all of them, or an early OPEN would meet an unknown peer. (Never polled during the run:
    // GoBGP's neighbor query stalls its route processing.)
    const up = () => {
      const r = cliOk(GOBGP, [...api, 'neighbor', '-j']);
      if (!r.ok) return false;
      try {
        return (JSON.parse(r.stdout) as unknown[]).length === this.o.peers.length;
      } catch {
        return false;
      }
    };
    return this.ready(up);
  }
}
