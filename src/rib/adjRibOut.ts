// One peer's Adj-RIB-Out on the main thread: what the peer was last sent, per prefix, and the
// export of best-path changes as packed UPDATEs (prefixes sharing attributes go together).

import {
  AttrFlag,
  AttrType,
  decodeUpdate,
  encodeAttribute,
  encodeMessage,
  MAX_MESSAGE_LENGTH,
  MessageType,
  type PathAttribute,
} from '../packet/index.js';
import { attributeBytes } from './attrs.js';
import { CHANGE_WORDS } from './apply.js';
import {
  F_NO_ADVERTISE,
  F_NO_EXPORT,
  F_NO_PEER,
  M_FLAGS,
  META_WORDS,
  PEER_FLAGS,
  PEER_WORDS,
  PF_IBGP,
  PF_RR_CLIENT,
  type RibViews,
} from './memory.js';

export interface ExportTarget {
  /** RIB peer index of the receiving neighbor. */
  peer: number;
  localAs: number;
  ibgp: boolean;
  /** Next hop self, as u32 (eBGP). */
  nextHop: number;
  maxMessageLength: number;
  asn4: boolean;
  /** RFC 4456: this peer is a route-reflector client. */
  rrClient: boolean;
  /** RFC 7947: no own AS prepended, next hop unchanged. */
  routeServerClient: boolean;
  /** RFC 8212: an eBGP peer gets nothing unless an export policy allows it. */
  exportAllowed: boolean;
  send(bytes: Uint8Array, messages: number): void;
}

const T = 0x40;

/**
 * Rewrites a stored (4-octet AS) attribute block for one receiving peer (RFC 4271 §5.1):
 * eBGP prepends our AS, sets NEXT_HOP to us and drops MED, LOCAL_PREF and the route-reflection
 * attributes; iBGP adds LOCAL_PREF when missing. Unknown optional transitive attributes gain
 * the Partial bit, unknown non-transitive ones are dropped.
 */
export function exportAttributes(src: Uint8Array, t: ExportTarget): Uint8Array {
  return t.asn4 ? export4(src, t) : toTwoOctetAs(export4(src, t));
}

/**
 * RFC 6793 §4.2.2: for a peer without the 4-octet AS capability, AS numbers above 65535
 * become AS_TRANS and the real path travels in AS4_PATH / AS4_AGGREGATOR. Rare, so it goes
 * through the codec.
 */
function toTwoOctetAs(block: Uint8Array): Uint8Array {
  const body = new Uint8Array(4 + block.length);
  body[2] = block.length >> 8;
  body[3] = block.length & 0xff;
  body.set(block, 4);
  const attrs = decodeUpdate(encodeMessage(MessageType.UPDATE, body), { asn4: true }).attributes;
  const extra: PathAttribute[] = [];
  for (const a of attrs) {
    if (a.type === AttrType.AS_PATH && 'segments' in a && a.segments.some((s) => s.asns.some((x) => x > 0xffff))) {
      extra.push({ type: AttrType.AS4_PATH, flags: AttrFlag.Optional | AttrFlag.Transitive, segments: a.segments });
    }
    if (a.type === AttrType.AGGREGATOR && 'asn' in a && a.asn > 0xffff) {
      extra.push({ type: AttrType.AS4_AGGREGATOR, flags: AttrFlag.Optional | AttrFlag.Transitive, asn: a.asn, address: a.address });
    }
  }
  return Buffer.concat([...attrs, ...extra].map((a) => encodeAttribute(a, { asn4: false })));
}

function export4(src: Uint8Array, t: ExportTarget): Uint8Array {
  const out = Buffer.allocUnsafe(src.length + 64);
  let o = 0;
  let hasLocalPref = false;
  let p = 0;
  const ebgp = !t.ibgp;
  const putHeader = (flags: number, type: number, len: number) => {
    if (len > 255) {
      out[o++] = flags | 0x10;
      out[o++] = type;
      out.writeUInt16BE(len, o);
      o += 2;
    } else {
      out[o++] = flags & ~0x10;
      out[o++] = type;
      out[o++] = len;
    }
  };
  while (p < src.length) {
    const flags = src[p];
    const type = src[p + 1];
    const ext = (flags & 0x10) !== 0;
    const len = ext ? (src[p + 2] << 8) | src[p + 3] : src[p + 2];
    const v = p + (ext ? 4 : 3);
    p = v + len;
    switch (type) {
      case 2: {
        // AS_PATH: prepend our AS for eBGP (not for route-server clients).
        const prepend = ebgp && !t.routeServerClient;
        if (!prepend) {
          putHeader(flags, type, len);
          out.set(src.subarray(v, v + len), o);
          o += len;
          break;
        }
        const joins = len >= 2 && src[v] === 2 && src[v + 1] < 255;
        const newLen = joins ? len + 4 : len + 6;
        putHeader(flags, type, newLen);
        if (joins) {
          out[o++] = 2;
          out[o++] = src[v + 1] + 1;
          out.writeUInt32BE(t.localAs >>> 0, o);
          o += 4;
          out.set(src.subarray(v + 2, v + len), o);
          o += len - 2;
        } else {
          out[o++] = 2;
          out[o++] = 1;
          out.writeUInt32BE(t.localAs >>> 0, o);
          o += 4;
          out.set(src.subarray(v, v + len), o);
          o += len;
        }
        break;
      }
      case 3:
        putHeader(T, 3, 4);
        if (ebgp && !t.routeServerClient) out.writeUInt32BE(t.nextHop >>> 0, o);
        else out.set(src.subarray(v, v + 4), o);
        o += 4;
        break;
      case 4: // MULTI_EXIT_DISC is not passed to other ASes (RFC 4271 §5.1.4)
      case 5: // LOCAL_PREF only within the AS
      case 9: // ORIGINATOR_ID and CLUSTER_LIST only within the AS (RFC 4456)
      case 10:
        if (ebgp && !(type === 4 && t.routeServerClient)) break;
        if (type === 5) hasLocalPref = true;
        putHeader(flags, type, len);
        out.set(src.subarray(v, v + len), o);
        o += len;
        break;
      default: {
        const known = type <= 10 || type === 16 || type === 17 || type === 18 || type === 32 || type === 35;
        if (!known && (flags & 0x80) && !(flags & 0x40)) break; // unknown non-transitive
        putHeader(known ? flags : flags | 0x20, type, len);
        out.set(src.subarray(v, v + len), o);
        o += len;
      }
    }
  }
  if (t.ibgp && !hasLocalPref) {
    putHeader(T, 5, 4);
    out.writeUInt32BE(100, o);
    o += 4;
  }
  return out.subarray(0, o);
}

export class AdjRibOut {
  /** Per shard, per slot: the attribute id last sent (0: nothing). */
  private readonly sent: Uint32Array[];
  private sentPrefixes = 0;

  constructor(
    private readonly v: RibViews,
    readonly target: ExportTarget,
  ) {
    this.sent = v.slots.map((s) => new Uint32Array(s.length / 4));
  }

  get advertised(): number {
    return this.sentPrefixes;
  }

  /** What this peer should carry for a best path from `from` with attributes `attr` (0: none). */
  private wanted(attr: number, from: number): number {
    const t = this.target;
    if (attr === 0 || from === t.peer) return 0;
    const flags = this.v.attrMeta[attr * META_WORDS + M_FLAGS];
    if (flags & F_NO_ADVERTISE) return 0;
    if (!t.ibgp && (flags & (F_NO_EXPORT | F_NO_PEER))) return 0;
    if (!t.ibgp && !t.exportAllowed) return 0;
    const fromFlags = this.v.peers[from * PEER_WORDS + PEER_FLAGS];
    // iBGP split horizon, unless one side is a route-reflector client (RFC 4456 §6).
    if (t.ibgp && fromFlags & PF_IBGP && !t.rrClient && !(fromFlags & PF_RR_CLIENT)) return 0;
    return attr;
  }

  /** Exports a batch of best-path changes (apply.ts CHANGE_WORDS records). */
  apply(changes: Uint32Array): void {
    const groups = new Map<number, number[]>();
    const withdrawn: number[] = [];
    for (let i = 0; i < changes.length; i += CHANGE_WORDS) {
      const ref = changes[i + 4];
      const shard = ref >>> 22;
      const slot = ref & 0x3fffff;
      const want = this.wanted(changes[i + 2], changes[i + 3]);
      const had = this.sent[shard][slot];
      if (want === had) continue;
      this.sent[shard][slot] = want;
      if (want === 0) {
        withdrawn.push(changes[i], changes[i + 1]);
        this.sentPrefixes--;
        continue;
      }
      if (had === 0) this.sentPrefixes++;
      let g = groups.get(want);
      if (!g) groups.set(want, (g = []));
      g.push(changes[i], changes[i + 1]);
    }
    this.flush(withdrawn, groups);
  }

  /** The peer just came up: forget what an earlier session was sent. */
  reset(): void {
    for (const s of this.sent) s.fill(0);
    this.sentPrefixes = 0;
  }

  private flush(withdrawn: number[], groups: Map<number, number[]>): void {
    const max = this.target.maxMessageLength || MAX_MESSAGE_LENGTH;
    const parts: Uint8Array[] = [];
    let messages = 0;
    let buf = Buffer.allocUnsafe(Math.max(64 * 1024, max * 2));
    let o = 0;
    const room = (n: number) => {
      if (o + n <= buf.length) return;
      parts.push(buf.subarray(0, o));
      buf = Buffer.allocUnsafe(Math.max(64 * 1024, max * 2));
      o = 0;
    };
    const header = (at: number, length: number) => {
      buf.fill(0xff, at, at + 16);
      buf.writeUInt16BE(length, at + 16);
      buf[at + 18] = MessageType.UPDATE;
    };
    const prefixSize = (len: number) => 1 + ((len + 7) >> 3);
    const putPrefix = (addr: number, len: number) => {
      buf[o++] = len;
      for (let k = 0; k < (len + 7) >> 3; k++) buf[o++] = (addr >>> (24 - 8 * k)) & 0xff;
    };
    // Withdrawals: as many per UPDATE as fit.
    for (let i = 0; i < withdrawn.length; ) {
      room(max);
      const start = o;
      o += 21;
      let size = 0;
      while (i < withdrawn.length && 23 + size + prefixSize(withdrawn[i + 1]) <= max) {
        putPrefix(withdrawn[i], withdrawn[i + 1]);
        size += prefixSize(withdrawn[i + 1]);
        i += 2;
      }
      buf.writeUInt16BE(size, start + 19);
      buf.writeUInt16BE(0, o);
      o += 2;
      header(start, o - start);
      messages++;
    }
    for (const [attr, prefixes] of groups) {
      const attrs = exportAttributes(attributeBytes(this.v, attr), this.target);
      for (let i = 0; i < prefixes.length; ) {
        room(max);
        const start = o;
        buf.writeUInt16BE(0, start + 19);
        buf.writeUInt16BE(attrs.length, start + 21);
        buf.set(attrs, start + 23);
        o = start + 23 + attrs.length;
        let size = 23 + attrs.length;
        while (i < prefixes.length && size + prefixSize(prefixes[i + 1]) <= max) {
          putPrefix(prefixes[i], prefixes[i + 1]);
          size += prefixSize(prefixes[i + 1]);
          i += 2;
        }
        header(start, o - start);
        messages++;
      }
    }
    if (o) parts.push(buf.subarray(0, o));
    if (!messages) return;
    this.target.send(parts.length === 1 ? parts[0] : Buffer.concat(parts), messages);
  }
}
