// Shared pieces of the tests that drive a speaker: an in-process Speaker on a free port of a
// loopback address, scripted peers that reach Established, UPDATE builders, and the table a
// receiving peer holds, rebuilt from what it was sent.

import net from 'node:net';
import { afterEach } from 'vitest';
import { DEFAULT_RIB, validateNeighbor, type Config, type RibConfig } from '../../src/config/schema.js';
import { State } from '../../src/neighbor/fsm.js';
import {
  AsPathSegmentType,
  AttrFlag,
  AttrType,
  decodeUpdate,
  encodeUpdate,
  MessageType,
  type Capability,
  type CodecContext,
  type PathAttribute,
  type Prefix,
} from '../../src/packet/index.js';
import { Speaker } from '../../src/speaker/speaker.js';
import { freePort } from './env.js';
import { defaultCaps, RawPeer, sleep, until } from './rawPeer.js';

export const T = AttrFlag.Transitive;
export const O = AttrFlag.Optional;
export const OPEN_POLICY = { 'import-policy': 'accept', 'export-policy': 'accept' } as const;
export const LOCAL_AS = 65000;

type Cleanup = () => unknown;

/**
 * Registers an afterEach that undoes what a test set up (speakers, peers, listeners), last
 * first. Call once per file, at its top level.
 */
export function useCleanup(): (fn: Cleanup) => void {
  const list: Cleanup[] = [];
  afterEach(async () => {
    while (list.length) {
      try {
        await list.pop()!();
      } catch {
        // a peer already gone
      }
    }
  });
  return (fn) => list.push(fn);
}

export interface Lab {
  speaker: Speaker;
  host: string;
  port: number;
  /** Connects from `addr`, exchanges OPEN/KEEPALIVE and waits for Established. */
  peer(addr: string, asn: number, opts?: PeerOptions): Promise<RawPeer>;
  /** Connects and sends OPEN, without waiting for anything (for OPEN errors). */
  connect(addr: string, asn: number, caps?: Capability[]): Promise<RawPeer>;
  state(addr: string): State;
}

export interface PeerOptions {
  /** Default: IPv4 unicast, route refresh, 4-octet AS. */
  caps?: Capability[];
}

/** A Speaker with AS 65000 on `host` (a free port), neighbors passive unless they say otherwise. */
export async function startLab(
  add: (fn: Cleanup) => void,
  host: string,
  neighbors: Array<Record<string, unknown>>,
  rib: Partial<RibConfig> = {},
): Promise<Lab> {
  const port = await freePort(host);
  const config: Config = {
    global: { asn: LOCAL_AS, routerId: '10.0.0.1', listen: [{ address: host, port }] },
    rib: { ...DEFAULT_RIB, workers: 2, shards: 8, prefixes: 4096, paths: 65536, attributeSets: 65536, ...rib },
    neighbors: neighbors.map((n, i) => validateNeighbor({ passive: true, ...n }, `n${i}`)),
  };
  const speaker = new Speaker(config);
  await speaker.start();
  add(() => speaker.shutdown('test over', 200));
  const connect = async (addr: string, asn: number, caps: Capability[] = defaultCaps(asn)) => {
    const p = await RawPeer.connect(host, port, addr);
    add(() => p.close());
    p.sendOpen(asn, 90, addr, caps);
    return p;
  };
  const state = (addr: string) => speaker.neighbors.get(addr)!.state;
  return {
    speaker,
    host,
    port,
    connect,
    state,
    async peer(addr, asn, opts = {}) {
      const p = await RawPeer.connect(host, port, addr);
      add(() => p.close());
      const caps = opts.caps ?? defaultCaps(asn);
      p.sendOpen(asn, 90, addr, caps);
      await p.waitFor(MessageType.OPEN);
      p.sendKeepalive();
      await until(() => state(addr) === State.Established, 3000, `${addr} Established`);
      return p;
    },
  };
}

/** ORIGIN IGP, AS_PATH as one AS_SEQUENCE, NEXT_HOP, then `extra`. */
export function attrs(path: number[], extra: PathAttribute[] = [], nextHop = '198.18.0.9'): PathAttribute[] {
  return [
    { type: AttrType.ORIGIN, flags: T, origin: 0 },
    { type: AttrType.AS_PATH, flags: T, segments: path.length ? [{ type: AsPathSegmentType.AS_SEQUENCE, asns: path }] : [] },
    { type: AttrType.NEXT_HOP, flags: T, nextHop },
    ...extra,
  ];
}

export const med = (v: number): PathAttribute => ({ type: AttrType.MULTI_EXIT_DISC, flags: O, med: v });
export const otc = (asn: number): PathAttribute => ({ type: AttrType.OTC, flags: O | T, otc: asn });
export const communities = (...c: number[]): PathAttribute => ({ type: AttrType.COMMUNITIES, flags: O | T, communities: c });

const ASN4: CodecContext = { asn4: true };

export function announce(a: PathAttribute[], prefixes: Array<string | Prefix>, ctx: CodecContext = ASN4): Uint8Array {
  return encodeUpdate({ withdrawn: [], attributes: a, nlri: prefixes.map((p) => (typeof p === 'string' ? { prefix: p } : p)) }, ctx);
}

export function withdraw(prefixes: Array<string | Prefix>, ctx: CodecContext = ASN4): Uint8Array {
  return encodeUpdate({ withdrawn: prefixes.map((p) => (typeof p === 'string' ? { prefix: p } : p)), attributes: [], nlri: [] }, ctx);
}

/**
 * What a receiving peer holds, rebuilt incrementally from every UPDATE it was sent (IPv4 and
 * IPv6): prefix -> the attributes of its latest announcement. `changes` counts announcements
 * and withdrawals seen per prefix.
 */
export class Table {
  readonly routes = new Map<string, PathAttribute[]>();
  readonly changes = new Map<string, number>();
  private seen = 0;
  updates = 0;

  constructor(
    readonly peer: RawPeer,
    readonly ctx: CodecContext = ASN4,
  ) {}

  /** Applies the messages received since the last call; returns this. */
  sync(): this {
    const r = this.peer.received;
    for (; this.seen < r.length; this.seen++) {
      const m = r[this.seen];
      if (m.type !== MessageType.UPDATE) continue;
      this.updates++;
      const u = decodeUpdate(m.bytes, this.ctx);
      const reach = u.attributes.find((a) => a.type === AttrType.MP_REACH_NLRI) as { nlri: Prefix[] } | undefined;
      const unreach = u.attributes.find((a) => a.type === AttrType.MP_UNREACH_NLRI) as { withdrawn: Prefix[] } | undefined;
      for (const w of [...u.withdrawn, ...(unreach?.withdrawn ?? [])]) {
        this.routes.delete(w.prefix);
        this.changes.set(w.prefix, (this.changes.get(w.prefix) ?? 0) + 1);
      }
      for (const n of [...u.nlri, ...(reach?.nlri ?? [])]) {
        this.routes.set(n.prefix, u.attributes);
        this.changes.set(n.prefix, (this.changes.get(n.prefix) ?? 0) + 1);
      }
    }
    return this;
  }

  get size(): number {
    return this.sync().routes.size;
  }

  has(prefix: string): boolean {
    return this.sync().routes.has(prefix);
  }

  get(prefix: string): PathAttribute[] | undefined {
    return this.sync().routes.get(prefix);
  }
}

/** The AS numbers of an AS_PATH (or AS4_PATH), segments flattened. */
export function pathOf(a: PathAttribute[] | undefined, type: number = AttrType.AS_PATH): number[] | undefined {
  return (a?.find((x) => x.type === type) as { segments: Array<{ asns: number[] }> } | undefined)?.segments.flatMap((s) => s.asns);
}

export function get<K extends string>(a: PathAttribute[] | undefined, type: number, key: K): unknown {
  return (a?.find((x) => x.type === type) as Record<K, unknown> | undefined)?.[key];
}

export function hasAttr(a: PathAttribute[] | undefined, type: number): boolean {
  return !!a?.some((x) => x.type === type);
}

/**
 * Sends `marker` from `src` after whatever was sent before it and waits until `sink` holds
 * it: UPDATEs from one peer are applied in order, so everything earlier has been decided by
 * then. A short pause lets the other receivers' writes land too.
 */
export async function settle(src: RawPeer, sink: Table, marker: string, path: number[]): Promise<void> {
  src.send(announce(attrs(path), [marker]));
  await until(() => sink.has(marker), 5000, `${marker} at the receiver`);
  await sleep(150);
}

/** A TCP listener standing in for a peer that ribstorm connects to; counts connections. */
export async function peerListener(add: (fn: Cleanup) => void, host: string): Promise<{ port: number; accepted: RawPeer[]; next: (timeoutMs?: number) => Promise<RawPeer> }> {
  const port = await freePort(host);
  const accepted: RawPeer[] = [];
  let taken = 0;
  const server = net.createServer((s) => {
    const p = new RawPeer(s);
    accepted.push(p);
    add(() => p.close());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  add(() => new Promise((r) => server.close(() => r(undefined))));
  return {
    port,
    accepted,
    async next(timeoutMs = 5000) {
      await until(() => accepted.length > taken, timeoutMs, `a connection from ribstorm to ${host}`);
      return accepted[taken++];
    },
  };
}
