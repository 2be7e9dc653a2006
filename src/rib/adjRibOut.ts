// The Adj-RIB-Out on the main thread. What a peer was last sent is not stored per peer: it is
// the export of the previous best path (kept once, in LocRibMirror) under that peer's rules,
// so a change costs one shared lookup however many peers receive it. Changes go out as packed
// UPDATEs, prefixes sharing attributes together.

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

/**
 * A batch of best-path changes as runs of one attribute set each (the workers sort them by
 * attribute id): group g is changes [starts[g], starts[g + 1]), all with attribute attrs[g].
 */
export class GroupedChanges {
  attrs = new Int32Array(1024);
  starts = new Int32Array(1025);
  groups = 0;

  constructor(public changes: Uint32Array = new Uint32Array(0)) {}

  group(changes: Uint32Array): this {
    this.changes = changes;
    const n = changes.length / CHANGE_WORDS;
    let groups = 0;
    let prev = -1;
    for (let i = 0; i < n; i++) {
      const a = changes[i * CHANGE_WORDS + 2];
      if (a === prev) continue;
      if (groups + 1 >= this.attrs.length) {
        const g = new Int32Array(this.attrs.length * 2);
        g.set(this.attrs);
        this.attrs = g;
        const s = new Int32Array(this.attrs.length + 1);
        s.set(this.starts);
        this.starts = s;
      }
      this.attrs[groups] = a;
      this.starts[groups++] = i;
      prev = a;
    }
    this.starts[groups] = n;
    this.groups = groups;
    return this;
  }
}

const MEMO_MASK = 8191;

/** Export bytes shared by peers that would get the same attributes (same AS, next hop, kind). */
export type ExportCache = Map<string, Map<number, Uint8Array>>;

/**
 * The best path every peer was last told about, per prefix: its attribute id and source peer,
 * as of the last batch handed to the Adj-RIB-Outs.
 */
export class LocRibMirror {
  readonly attr: Uint32Array[];
  readonly from: Uint16Array[];

  constructor(v: RibViews) {
    this.attr = v.slots.map((s) => new Uint32Array(s.length / 4));
    this.from = v.slots.map((s) => new Uint16Array(s.length / 4));
  }

  update(c: Uint32Array): void {
    for (let i = 0; i < c.length; i += CHANGE_WORDS) {
      const ref = c[i + 4];
      this.attr[ref >>> 22][ref & 0x3fffff] = c[i + 2];
      this.from[ref >>> 22][ref & 0x3fffff] = c[i + 3];
    }
  }

  /** Every prefix with a best path, as change records (the initial table for a new session). */
  snapshot(v: RibViews): Uint32Array {
    let n = 0;
    for (const a of this.attr) for (let i = 0; i < a.length; i++) if (a[i]) n++;
    const out = new Uint32Array(n * CHANGE_WORDS);
    let o = 0;
    for (let s = 0; s < this.attr.length; s++) {
      const a = this.attr[s];
      const slots = v.slots[s];
      for (let i = 0; i < a.length; i++) {
        if (!a[i]) continue;
        out[o++] = slots[i * 4];
        out[o++] = (slots[i * 4 + 1] & 0x7fffffff) - 1;
        out[o++] = a[i];
        out[o++] = this.from[s][i];
        out[o++] = (s << 22) | i;
      }
    }
    return out;
  }
}

export class AdjRibOut {
  private sentPrefixes = 0;
  private readonly exportClass: string;
  private ann = new Uint32Array(1024);
  private wd = new Uint32Array(1024);
  private readonly memoTag = new Uint32Array(MEMO_MASK + 1);
  private readonly memoVal = new Uint8Array(MEMO_MASK + 1);

  constructor(
    private readonly v: RibViews,
    private readonly mirror: LocRibMirror,
    readonly target: ExportTarget,
  ) {
    const t = target;
    this.exportClass = `${t.localAs}/${t.nextHop}/${t.ibgp}/${t.routeServerClient}/${t.asn4}`;
  }

  /** Prefixes this peer currently holds from us. */
  get advertised(): number {
    return this.sentPrefixes;
  }

  /** Attribute-based export rules: well-known communities and the RFC 8212 default. */
  private attrExportable(attr: number): boolean {
    if (attr === 0) return false;
    // A small direct-mapped memo: previous best paths repeat across a batch's changes.
    const k = attr & MEMO_MASK;
    if (this.memoTag[k] === attr) return this.memoVal[k] === 1;
    const t = this.target;
    const flags = this.v.attrMeta[attr * META_WORDS + M_FLAGS];
    const ok = !(flags & F_NO_ADVERTISE) && (t.ibgp || (!(flags & (F_NO_EXPORT | F_NO_PEER)) && t.exportAllowed));
    this.memoTag[k] = attr;
    this.memoVal[k] = ok ? 1 : 0;
    return ok;
  }

  /** Source-based rules: never back to the source, and iBGP split horizon (RFC 4456 §6). */
  private sourceAllowed(from: number): boolean {
    const t = this.target;
    if (from === t.peer) return false;
    if (!t.ibgp) return true;
    const fromFlags = this.v.peers[from * PEER_WORDS + PEER_FLAGS];
    return !(fromFlags & PF_IBGP) || t.rrClient || (fromFlags & PF_RR_CLIENT) !== 0;
  }

  /**
   * Exports a batch of best-path changes, grouped once for every peer, as packed UPDATEs.
   * `initial`: the peer has nothing yet (its first table), whatever the mirror says.
   */
  apply(g: GroupedChanges, cache: ExportCache, initial = false): void {
    const c = g.changes;
    if (this.ann.length < c.length / CHANGE_WORDS * 2) {
      this.ann = new Uint32Array((c.length / CHANGE_WORDS) * 2);
      this.wd = new Uint32Array((c.length / CHANGE_WORDS) * 2);
    }
    let classCache = cache.get(this.exportClass);
    if (!classCache) cache.set(this.exportClass, (classCache = new Map()));
    const out = new UpdateWriter(this.target.maxMessageLength || MAX_MESSAGE_LENGTH);
    let nWd = 0;
    for (let k = 0; k < g.groups; k++) {
      const attr = g.attrs[k];
      const attrOk = this.attrExportable(attr);
      let nAnn = 0;
      for (let j = g.starts[k]; j < g.starts[k + 1]; j++) {
        const i = j * CHANGE_WORDS;
        const ref = c[i + 4];
        const shard = ref >>> 22;
        const slot = ref & 0x3fffff;
        const want = attrOk && this.sourceAllowed(c[i + 3]) ? attr : 0;
        const prev = initial ? 0 : this.mirror.attr[shard][slot];
        const had = prev !== 0 && this.attrExportable(prev) && this.sourceAllowed(this.mirror.from[shard][slot]) ? prev : 0;
        if (want === had) continue;
        if (want === 0) {
          this.wd[nWd++] = c[i];
          this.wd[nWd++] = c[i + 1];
          this.sentPrefixes--;
        } else {
          if (had === 0) this.sentPrefixes++;
          this.ann[nAnn++] = c[i];
          this.ann[nAnn++] = c[i + 1];
        }
      }
      if (nAnn === 0) continue;
      let bytes = classCache.get(attr);
      if (!bytes) classCache.set(attr, (bytes = exportAttributes(attributeBytes(this.v, attr), this.target)));
      out.announce(bytes, this.ann, nAnn);
    }
    out.withdraw(this.wd, nWd);
    const msg = out.finish();
    if (msg) this.target.send(msg.bytes, msg.messages);
  }
}

/** Packs prefixes into UPDATEs of at most maxLength octets. */
class UpdateWriter {
  /** One scratch buffer reused for every batch; what is sent is copied out at its exact size. */
  private static scratch = Buffer.allocUnsafe(1 << 20);
  private buf = UpdateWriter.scratch;
  private o = 0;
  private messages = 0;

  constructor(private readonly max: number) {}

  private room(n: number): void {
    if (this.o + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(this.buf.length * 2);
    this.buf.copy(bigger, 0, 0, this.o);
    this.buf = UpdateWriter.scratch = bigger;
  }

  private header(at: number): void {
    this.buf.fill(0xff, at, at + 16);
    this.buf.writeUInt16BE(this.o - at, at + 16);
    this.buf[at + 18] = MessageType.UPDATE;
    this.messages++;
  }

  /** Writes prefixes [addr, len] pairs p[0, n) from the current position; returns how many fit. */
  private prefixes(p: Uint32Array, from: number, n: number, limit: number): number {
    const b = this.buf;
    let i = from;
    while (i < n) {
      const len = p[i + 1];
      const bytes = (len + 7) >> 3;
      if (this.o + 1 + bytes > limit) break;
      const addr = p[i];
      b[this.o++] = len;
      for (let k = 0; k < bytes; k++) b[this.o++] = (addr >>> (24 - 8 * k)) & 0xff;
      i += 2;
    }
    return i;
  }

  announce(attrs: Uint8Array, p: Uint32Array, n: number): void {
    for (let i = 0; i < n; ) {
      this.room(this.max);
      const start = this.o;
      this.buf.writeUInt16BE(0, start + 19);
      this.buf.writeUInt16BE(attrs.length, start + 21);
      this.buf.set(attrs, start + 23);
      this.o = start + 23 + attrs.length;
      i = this.prefixes(p, i, n, start + this.max);
      this.header(start);
    }
  }

  withdraw(p: Uint32Array, n: number): void {
    for (let i = 0; i < n; ) {
      this.room(this.max);
      const start = this.o;
      this.o = start + 21;
      i = this.prefixes(p, i, n, start + this.max - 2);
      this.buf.writeUInt16BE(this.o - start - 21, start + 19);
      this.buf.writeUInt16BE(0, this.o);
      this.o += 2;
      this.header(start);
    }
  }

  finish(): { bytes: Uint8Array; messages: number } | null {
    if (!this.messages) return null;
    return { bytes: Buffer.from(this.buf.subarray(0, this.o)), messages: this.messages };
  }
}
