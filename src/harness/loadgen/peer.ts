// A minimal BGP speaker for load generation: opens one session, then either blasts a
// pre-encoded table (sender) or counts what arrives (sink). It keeps no RIB of its own beyond
// the set of prefixes a sink holds.

import net from 'node:net';
import {
  buildOpen,
  CapabilityCode,
  cease,
  CeaseSubcode,
  decodeNotification,
  describeNotification,
  encodeNotification,
  encodeOpen,
  KEEPALIVE,
  MessageType,
  type Capability,
} from '../../packet/index.js';

export interface LoadPeerOptions {
  host: string;
  port: number;
  localAddress: string;
  asn: number;
  routerId: string;
  holdTime?: number;
}

export class LoadPeer {
  private pending: Buffer | null = null;
  private keepalive: NodeJS.Timeout | null = null;
  established = false;
  closedReason = '';
  /** Called for every UPDATE received: the buffer and the message's offset and length. */
  onUpdate: ((b: Buffer, off: number, len: number) => void) | null = null;

  private constructor(
    readonly socket: net.Socket,
    readonly opts: LoadPeerOptions,
  ) {}

  private sendOpen(): void {
    const caps: Capability[] = [
      { code: CapabilityCode.Multiprotocol, afi: 1, safi: 1 },
      { code: CapabilityCode.FourOctetAs, asn: this.opts.asn },
    ];
    this.socket.write(encodeOpen(buildOpen(this.opts.asn, this.opts.holdTime ?? 90, this.opts.routerId, caps)));
    this.openSent = true;
  }

  private openSent = false;

  /**
   * The passive side for a connection someone else opened (the load generator's own sink):
   * answers the peer's OPEN with ours.
   */
  static accept(socket: net.Socket, opts: Omit<LoadPeerOptions, 'host' | 'port' | 'localAddress'>): Promise<LoadPeer> {
    return new Promise((resolve) => {
      socket.setNoDelay(true);
      const p = new LoadPeer(socket, { ...opts, host: '', port: 0, localAddress: '' });
      socket.on('error', (e) => (p.closedReason ||= e.message));
      socket.on('data', (chunk: Buffer) => p.onData(chunk, () => resolve(p)));
    });
  }

  /**
   * Connects and completes the OPEN exchange (RFC 4271 §8: OpenSent, OpenConfirm). A target
   * that refuses (still in its idle hold after an earlier run) is tried again every second.
   */
  static async open(opts: LoadPeerOptions, timeoutMs = 30_000): Promise<LoadPeer> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        return await LoadPeer.attempt(opts, Math.min(5000, deadline - Date.now()));
      } catch (e) {
        last = (e as Error).message;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    throw new Error(`${opts.localAddress}: no session with ${opts.host}:${opts.port} within ${timeoutMs / 1000} s (${last || 'no answer'})`);
  }

  private static attempt(opts: LoadPeerOptions, timeoutMs: number): Promise<LoadPeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress, noDelay: true });
      const p = new LoadPeer(socket, opts);
      const fail = (why: string) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(why));
      };
      const timer = setTimeout(() => fail('no answer'), timeoutMs);
      socket.on('error', (e) => (p.closedReason ||= e.message));
      socket.on('close', () => {
        p.established = false;
        if (p.keepalive) clearInterval(p.keepalive);
        if (!p.up) fail(p.closedReason || 'connection closed');
      });
      socket.on('connect', () => p.sendOpen());
      socket.on('data', (chunk: Buffer) => {
        p.onData(chunk, () => {
          p.up = true;
          clearTimeout(timer);
          resolve(p);
        });
      });
    });
  }

  /** The session reached Established once (a later close is not a failed attempt). */
  private up = false;

  private onData(chunk: Buffer, up: () => void): void {
    const b = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let o = 0;
    while (b.length - o >= 19) {
      const len = b.readUInt16BE(o + 16);
      if (len < 19) {
        this.socket.destroy();
        return;
      }
      if (b.length - o < len) break;
      const type = b[o + 18];
      if (type === MessageType.UPDATE) this.onUpdate?.(b, o, len);
      else if (type === MessageType.OPEN) {
        if (!this.openSent) this.sendOpen();
        this.socket.write(KEEPALIVE);
        const hold = Math.min(this.opts.holdTime ?? 90, b.readUInt16BE(o + 22));
        if (hold > 0) this.keepalive = setInterval(() => this.socket.write(KEEPALIVE), (hold * 1000) / 3);
      } else if (type === MessageType.KEEPALIVE && !this.established) {
        this.established = true;
        up();
      } else if (type === MessageType.NOTIFICATION) {
        this.closedReason = describeNotification(decodeNotification(b.subarray(o, o + len)));
      }
      o += len;
    }
    this.pending = o < b.length ? b.subarray(o) : null;
  }

  /** Writes and resolves once the bytes are handed to the kernel (backpressure respected). */
  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.write(bytes)) resolve();
      else this.socket.once('drain', resolve);
    });
  }

  close(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    if (!this.socket.destroyed) this.socket.end(encodeNotification(cease(CeaseSubcode.AdministrativeShutdown, 'load test over')));
    setTimeout(() => this.socket.destroy(), 500).unref();
  }
}

/**
 * Counts the distinct IPv4 prefixes a sink holds, from the UPDATEs it receives: an open-
 * addressing set of (network, length) in one typed array, so the sink keeps up with millions
 * of prefixes a second.
 */
export class PrefixSet {
  private slots = new Uint32Array(2 * 65536);
  private used = 0;
  private removed = 0;
  updates = 0;
  lastUpdateAt = 0;
  /** Prefixes announced, counting repeats. */
  announced = 0;

  get size(): number {
    return this.used - this.removed;
  }

  /** Applies one UPDATE (withdrawn routes, then NLRI; no ADD-PATH). */
  apply(b: Buffer, off: number, len: number): void {
    this.updates++;
    this.lastUpdateAt = performance.now();
    const end = off + len;
    let p = off + 19;
    const wLen = b.readUInt16BE(p);
    p += 2;
    p = this.walk(b, p, p + wLen, false);
    const aLen = b.readUInt16BE(p);
    this.walk(b, p + 2 + aLen, end, true);
  }

  // Slot words: network, length + 1 (0 = empty) with bit 8 set once withdrawn.
  private find(addr: number, l: number, insert: boolean): number {
    const mask = this.slots.length / 2 - 1;
    let i = (Math.imul(addr ^ (l << 26), 0x9e3779b1) >>> 7) & mask;
    for (;;) {
      const t = this.slots[i * 2 + 1];
      if (t === 0) {
        if (!insert) return -1;
        this.slots[i * 2] = addr;
        this.slots[i * 2 + 1] = l + 1;
        this.used++;
        return i;
      }
      if ((t & 0xff) === l + 1 && this.slots[i * 2] === addr) return i;
      i = (i + 1) & mask;
    }
  }

  /** How many prefixes held here `other` does not hold. */
  countMissingFrom(other: PrefixSet): number {
    let n = 0;
    for (let i = 0; i < this.slots.length; i += 2) {
      const t = this.slots[i + 1];
      if (t === 0 || t & 0x100) continue;
      const j = other.find(this.slots[i], (t & 0xff) - 1, false);
      if (j < 0 || other.slots[j * 2 + 1] & 0x100) n++;
    }
    return n;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    this.used = 0;
    this.removed = 0;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i + 1] !== 0 && !(old[i + 1] & 0x100)) this.find(old[i], (old[i + 1] & 0xff) - 1, true);
    }
  }

  private walk(b: Buffer, p: number, end: number, add: boolean): number {
    while (p < end) {
      const l = b[p];
      const n = (l + 7) >> 3;
      let addr = 0;
      for (let i = 0; i < 4; i++) addr = ((addr << 8) | (i < n ? b[p + 1 + i] : 0)) >>> 0;
      if (add) {
        if (this.used * 4 >= this.slots.length * 1.5) this.grow();
        const i = this.find(addr, l, true);
        if (this.slots[i * 2 + 1] & 0x100) {
          this.slots[i * 2 + 1] &= 0xff; // announced again after a withdrawal
          this.removed--;
        }
        this.announced++;
      } else {
        const i = this.find(addr, l, false);
        if (i >= 0 && !(this.slots[i * 2 + 1] & 0x100)) {
          this.slots[i * 2 + 1] |= 0x100;
          this.removed++;
        }
      }
      p += 1 + n;
    }
    return end;
  }
}
