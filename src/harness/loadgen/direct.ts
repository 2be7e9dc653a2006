// The load generator alone: senders straight into a sink of its own, no router between them.
// Its rate is the ceiling of any measurement it makes; the bench reports it next to targets.

import net from 'node:net';
import type { EncodedTable } from '../tablegen/index.js';
import { LoadPeer, PrefixSet } from './peer.js';

export interface DirectResult {
  /** Prefixes received at the sink per second, counting every sender's copy. */
  prefixesPerSecond: number;
  seconds: number;
  announced: number;
}

/** `port` 0: one the kernel picks free on `address`. */
export async function measureLoadGenerator(tables: EncodedTable[], address = '127.0.5.3', port = 0): Promise<DirectResult> {
  const held = new PrefixSet();
  const expected = tables.reduce((s, t) => s + t.ipv4Prefixes, 0);
  const accepted: LoadPeer[] = [];
  const server = net.createServer((socket) => {
    void LoadPeer.accept(socket, { asn: 65002, routerId: address }).then((p) => accepted.push(p));
  });
  await new Promise<void>((r) => server.listen(port, address, r));
  const listening = (server.address() as net.AddressInfo).port;
  const senders: LoadPeer[] = [];
  try {
    for (let i = 0; i < tables.length; i++) {
      // Past 200 senders the addresses repeat: each connection still has a port of its own.
      const local = `127.0.5.${30 + (i % 200)}`;
      senders.push(await LoadPeer.open({ host: address, port: listening, localAddress: local, asn: 65030 + i, routerId: local }));
    }
    while (accepted.length < senders.length) await new Promise((r) => setTimeout(r, 5));
    for (const p of accepted) p.onUpdate = (b, off, len) => held.apply(b, off, len);
    const t0 = performance.now();
    await Promise.all(senders.map((s, i) => s.write(tables[i].updates)));
    while (held.announced < expected) await new Promise((r) => setImmediate(r));
    const seconds = (performance.now() - t0) / 1000;
    return { prefixesPerSecond: Math.round(held.announced / seconds), seconds, announced: held.announced };
  } finally {
    for (const p of [...senders, ...accepted]) p.close();
    server.close();
  }
}
