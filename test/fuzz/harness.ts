// The differential harness: one UPDATE through three decoders and a comparison.
//   reference  test/fuzz/reference.ts, from the RFC text
//   codec      decodeUpdate (src/packet/update.ts)
//   live       BatchApplier.applyUpdates over RIB memory, as the RIB workers run it, with the
//              installed paths and their stored attribute bytes read back from the RIB
// Every difference becomes a named disagreement; a shrinker makes a small reproducer.

import {
  BgpError,
  decodeUpdate,
  encodeAttributeValue,
  formatPrefix,
  parsePrefix,
  type DecodedUpdate,
  type PathAttribute,
  type Prefix,
} from '../../src/packet/index.js';
import { BatchApplier, C_KEY, C_LEN, CHANGE_WORDS, type PeerContext } from '../../src/rib/apply.js';
import { attributeBytes } from '../../src/rib/attrs.js';
import {
  allocateRib,
  H_PATHS,
  H_PREFIXES,
  HEADER_WORDS,
  PEER_ADDR,
  PEER_AS,
  PEER_FLAGS,
  PEER_ID,
  PEER_WORDS,
  PF_IBGP,
  RibViews,
  type RibSizing,
} from '../../src/rib/memory.js';
import { forEachPrefix, lookup, pathsAt, prefixAt } from '../../src/rib/query.js';
import { referenceDecode, type RefAttr, type RefContext, type RefVerdict } from './reference.js';
import { split, join, fixHeader } from './mutate.js';

export type { RefContext };

// ---------------------------------------------------------------------------------------------
// Small helpers

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/[^0-9a-f]/gi, ''), 'hex'));
}

const sortStr = (a: string[]) => [...a].sort();

/** The prefix text with host bits cleared (trailing bits are irrelevant, RFC 4271 §4.3). */
function canonPrefix(p: Prefix, addPath: boolean): string {
  const { afi, bytes, length } = parsePrefix(p.prefix);
  const b = bytes.slice();
  for (let i = 0; i < b.length; i++) {
    const bit = i * 8;
    if (bit >= length) b[i] = 0;
    else if (bit + 8 > length) b[i] &= (0xff << (8 - (length - bit))) & 0xff;
  }
  return `${formatPrefix(afi, b, length)}${addPath ? `#${p.pathId ?? 0}` : ''}`;
}

/** Attribute TLVs of a stored block (lenient: a malformed block is reported as such). */
function tlvs(b: Uint8Array): RefAttr[] | string {
  const out: RefAttr[] = [];
  let p = 0;
  while (p < b.length) {
    if (p + 3 > b.length) return 'truncated header';
    const flags = b[p];
    const ext = (flags & 0x10) !== 0;
    if (ext && p + 4 > b.length) return 'truncated header';
    const len = ext ? (b[p + 2] << 8) | b[p + 3] : b[p + 2];
    const v = p + (ext ? 4 : 3);
    if (v + len > b.length) return 'attribute overruns the block';
    out.push({ flags, type: b[p + 1], value: b.slice(v, v + len) });
    p = v + len;
  }
  return out;
}

/** AS path as text, 4-octet ASes, adjacent AS_SEQUENCE segments joined (an encoding choice). */
function pathText(v: Uint8Array, asSize: number): string {
  const segs: Array<{ t: number; a: number[] }> = [];
  let p = 0;
  while (p < v.length) {
    if (p + 2 > v.length) return `bad(${toHex(v)})`;
    const t = v[p];
    const n = v[p + 1];
    if (p + 2 + n * asSize > v.length) return `bad(${toHex(v)})`;
    const a: number[] = [];
    for (let i = 0; i < n; i++) {
      const o = p + 2 + i * asSize;
      a.push(asSize === 4 ? ((v[o] << 24) | (v[o + 1] << 16) | (v[o + 2] << 8) | v[o + 3]) >>> 0 : (v[o] << 8) | v[o + 1]);
    }
    const last = segs[segs.length - 1];
    if (last && last.t === 2 && t === 2) last.a.push(...a);
    else segs.push({ t, a });
    p += 2 + n * asSize;
  }
  return segs.map((s) => `${s.t}(${s.a.join(' ')})`).join(' ');
}

/** type -> comparable text: Optional/Transitive/Partial flags and the value (AS_PATH as text). */
function attrMap(list: RefAttr[], asSize: number, withFlags: (t: number) => boolean): Map<number, string> {
  const m = new Map<number, string>();
  for (const a of list) {
    const val = a.type === 2 ? pathText(a.value, asSize) : toHex(a.value);
    const text = withFlags(a.type) ? `${(a.flags & 0xe0).toString(16)}:${val}` : val;
    m.set(a.type, m.has(a.type) ? `${m.get(a.type)} + ${text}` : text);
  }
  return m;
}

function diffMaps(want: Map<number, string>, got: Map<number, string>): Array<{ type: number; want?: string; got?: string }> {
  const out: Array<{ type: number; want?: string; got?: string }> = [];
  for (const t of new Set([...want.keys(), ...got.keys()])) {
    if (want.get(t) !== got.get(t)) out.push({ type: t, want: want.get(t), got: got.get(t) });
  }
  return out.sort((a, b) => a.type - b.type);
}

// ---------------------------------------------------------------------------------------------
// The live path: BatchApplier over its shared RIB memory, in this thread

const LOCAL_AS = 4294967294; // a number the generated paths practically never hold
const PEER = 1;
const SIZING: RibSizing = { shards: 4, prefixes: 16384, prefixes6: 4096, paths: 32768, attributeSets: 100_000, attributeBytes: 128, attributeIndex: 1 << 18 };

export interface LiveResult {
  error?: { code: number; subcode: number; detail: string };
  /** prefix[#pathId] -> stored attribute block. */
  routes: Map<string, Uint8Array>;
}

export class LivePath {
  private views!: RibViews;
  private applier!: BatchApplier;
  private seq = 0;
  private readonly sab = new SharedArrayBuffer(65536 + 64);
  private readonly bytes = new Uint8Array(this.sab);
  private lastLen = 0;

  constructor() {
    this.fresh();
  }

  /** A new RIB (the prefix table never frees slots, the attribute arena only grows). */
  fresh(): void {
    this.views = new RibViews(allocateRib(LOCAL_AS, SIZING, false, 0));
    this.applier = new BatchApplier(this.views);
    this.seq = 0;
  }

  private crowded(): boolean {
    const v = this.views;
    let p4 = 0;
    let p6 = 0;
    for (let s = 0; s < SIZING.shards; s++) {
      p4 += v.headers[s * HEADER_WORDS + H_PREFIXES];
      p6 += v.headers[s * HEADER_WORDS + H_PREFIXES + 3];
    }
    const cap4 = (v.families[0].mask + 1) * SIZING.shards;
    const cap6 = (v.families[1].mask + 1) * SIZING.shards;
    return p4 > cap4 * 0.4 || p6 > cap6 * 0.4 || v.attrCounters[0] > SIZING.attributeSets * 0.8 || v.attrCounters[1] > v.attrArena.length * 0.8;
  }

  private pathCount(): number {
    let n = 0;
    for (let s = 0; s < SIZING.shards; s++) n += this.views.headers[s * HEADER_WORDS + H_PATHS];
    return n;
  }

  /**
   * Applies one UPDATE as production does (the message in a SharedArrayBuffer, one
   * [offset, length] descriptor), reads back every path of the peer with its stored attribute
   * bytes, then flushes the peer so the next case starts empty. `hint` lists prefixes to look
   * up first; a full scan runs whenever they do not account for every path.
   */
  run(msg: Uint8Array, ctx: RefContext, hint: Iterable<string>): LiveResult {
    if (this.crowded()) this.fresh();
    const v = this.views;
    const o = PEER * PEER_WORDS;
    v.peers[o + PEER_AS] = ctx.ebgp ? 65001 : LOCAL_AS;
    v.peers[o + PEER_ID] = 0x0a000001;
    v.peers[o + PEER_ADDR] = 0x0a000001;
    v.peers[o + PEER_FLAGS] = ctx.ebgp ? 0 : PF_IBGP;
    if (this.lastLen > msg.length) this.bytes.fill(0, msg.length, this.lastLen);
    this.bytes.set(msg, 0);
    this.lastLen = msg.length;
    const pctx = { asn4: ctx.asn4, ebgp: ctx.ebgp, addPath: ctx.addPath4, addPath6: ctx.addPath6, import: 'accept' } as PeerContext;
    const r = this.applier.applyUpdates(this.seq++, PEER, pctx, this.bytes, Uint32Array.of(0, msg.length));
    const out: LiveResult = { routes: new Map() };
    if (r.error) out.error = { code: r.error.code, subcode: r.error.subcode, detail: r.error.detail };

    const candidates = new Set<string>();
    for (const h of hint) candidates.add(h.replace(/#.*$/, ''));
    const c = r.changes;
    for (let i = 0; i + CHANGE_WORDS <= c.length; i += CHANGE_WORDS) {
      const fam = c[i + C_LEN] >>> 8;
      const len = c[i + C_LEN] & 0xff;
      const bytes = new Uint8Array(fam === 1 ? 16 : 4);
      for (let w = 0; w < bytes.length / 4; w++) {
        const x = c[i + C_KEY + w];
        bytes.set([x >>> 24, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff], w * 4);
      }
      candidates.add(formatPrefix(fam === 1 ? 2 : 1, bytes, len));
    }
    const add = (prefix: string, fam6: boolean, paths: ReturnType<typeof lookup>) => {
      for (const pv of paths) {
        if (pv.peer !== PEER) continue;
        const ap = fam6 ? ctx.addPath6 : ctx.addPath4;
        out.routes.set(`${prefix}${ap ? `#${pv.pathId}` : ''}`, attributeBytes(v, pv.attr).slice());
      }
    };
    for (const pfx of candidates) {
      try {
        add(pfx, pfx.includes(':'), lookup(v, pfx));
      } catch {
        /* a hint the RIB cannot even parse */
      }
    }
    if (out.routes.size !== this.pathCount()) {
      out.routes.clear();
      forEachPrefix(v, (f, s, slot) => add(prefixAt(f, s, slot), f.id === 1, pathsAt(v, f, s, slot)));
    }
    const f = this.applier.flushPeer(this.seq++, PEER);
    if (f.error || this.pathCount() !== 0) this.fresh();
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// The codec, normalized

interface CodecOk {
  kind: 'ok';
  u: DecodedUpdate;
  withdrawn: string[];
  announced: string[];
  taw: boolean;
}
type CodecResult = CodecOk | { kind: 'reset'; code: number; subcode: number; detail: string } | { kind: 'crash'; detail: string };

function runCodec(msg: Uint8Array, ctx: RefContext): CodecResult {
  let u: DecodedUpdate;
  try {
    u = decodeUpdate(msg, { asn4: ctx.asn4, ebgp: ctx.ebgp, addPath: { ipv4: ctx.addPath4, ipv6: ctx.addPath6 } });
  } catch (e) {
    if (e instanceof BgpError) return { kind: 'reset', code: e.code, subcode: e.subcode, detail: e.message };
    return { kind: 'crash', detail: String((e as Error)?.stack ?? e) };
  }
  const mp = (t: number) => u.attributes.find((a) => a.type === t) as { afi: number; safi: number; nlri?: Prefix[]; withdrawn?: Prefix[] } | undefined;
  const reach = mp(14);
  const unreach = mp(15);
  const uni = (m?: { afi: number; safi: number }) => !!m && (m.afi === 1 || m.afi === 2) && m.safi === 1;
  const ap = (afi: number) => (afi === 1 ? ctx.addPath4 : ctx.addPath6);
  try {
    const withdrawn = [...u.withdrawn.map((p) => canonPrefix(p, ctx.addPath4)), ...(uni(unreach) ? unreach!.withdrawn!.map((p) => canonPrefix(p, ap(unreach!.afi))) : [])];
    const announced = [...u.nlri.map((p) => canonPrefix(p, ctx.addPath4)), ...(uni(reach) ? reach!.nlri!.map((p) => canonPrefix(p, ap(reach!.afi))) : [])];
    return { kind: 'ok', u, withdrawn, announced, taw: u.treatAsWithdraw };
  } catch (e) {
    return { kind: 'crash', detail: `normalizing the codec result: ${(e as Error).message}` };
  }
}

// ---------------------------------------------------------------------------------------------
// One case

export interface Disagreement {
  /** A stable class name: which decoders, what differs. */
  kind: string;
  detail: string;
}

export interface CaseResult {
  ref: RefVerdict;
  codec: CodecResult;
  live: LiveResult;
  disagreements: Disagreement[];
}

const verdictText = (v: { kind: string; code?: number; subcode?: number }) => (v.kind === 'reset' ? `reset ${v.code}/${v.subcode}` : v.kind);

export function runCase(msg: Uint8Array, ctx: RefContext, live: LivePath): CaseResult {
  const ref = referenceDecode(msg, ctx);
  const codec = runCodec(msg, ctx);
  const hint = new Set<string>();
  if (ref.kind === 'ok') for (const p of [...ref.announced, ...ref.withdrawn]) hint.add(p);
  if (codec.kind === 'ok') for (const p of [...codec.announced, ...codec.withdrawn]) hint.add(p);
  const lv = live.run(msg, ctx, hint);
  const out: Disagreement[] = [];
  const add = (kind: string, detail: string) => out.push({ kind, detail });

  // --- reference vs codec
  if (codec.kind === 'crash') add('codec: throws a non-BGP error', codec.detail.split('\n').slice(0, 3).join(' | '));
  else if (ref.kind === 'reset' || codec.kind === 'reset') {
    if (ref.kind !== codec.kind) {
      add(`codec: ${verdictText(codec)} where the reference has ${verdictText(ref)}`, `reference: ${ref.kind === 'reset' ? ref.reason : ref.problems.join('; ') || 'no error'} | codec: ${codec.kind === 'reset' ? codec.detail : codec.u.problems.join('; ') || 'no error'}`);
    } else if (ref.kind === 'reset' && codec.kind === 'reset' && (ref.code !== codec.code || ref.subcode !== codec.subcode)) {
      add(`codec: reset subcode ${codec.code}/${codec.subcode} where the reference has ${ref.code}/${ref.subcode}`, `reference: ${ref.reason} | codec: ${codec.detail}`);
    }
  } else if (ref.kind === 'ok' && codec.kind === 'ok') {
    if (sortStr(ref.withdrawn).join() !== sortStr(codec.withdrawn).join()) add('codec: withdrawn prefixes differ', `reference [${sortStr(ref.withdrawn)}] codec [${sortStr(codec.withdrawn)}]`);
    if (sortStr(ref.announced).join() !== sortStr(codec.announced).join()) add('codec: announced prefixes differ', `reference [${sortStr(ref.announced)}] codec [${sortStr(codec.announced)}]`);
    const refTaw = ref.treatAsWithdraw && ref.announced.length > 0;
    const codecTaw = codec.taw && codec.announced.length > 0;
    if (refTaw !== codecTaw) add(`codec: treat-as-withdraw ${codecTaw} where the reference has ${refTaw}`, `reference: ${ref.problems.join('; ') || '-'} | codec: ${codec.u.problems.join('; ') || '-'}`);
    const rd = [...ref.discarded].sort((a, b) => a - b).join(',');
    const cd = [...codec.u.discarded].sort((a, b) => a - b).join(',');
    if (rd !== cd) {
      const types = [...new Set([...ref.discarded, ...codec.u.discarded])].filter((t) => ref.discarded.filter((x) => x === t).length !== codec.u.discarded.filter((x) => x === t).length);
      add(`codec: discarded attributes differ (type ${types.sort((a, b) => a - b).join(',')})`, `reference [${rd}] codec [${cd}]`);
    }
    // The kept attributes, as received (MP_REACH / MP_UNREACH are compared as prefixes above).
    const asSize = ctx.asn4 ? 4 : 2;
    const codecKept: RefAttr[] = [];
    for (const a of codec.u.attributes) {
      if (a.type === 14 || a.type === 15) continue;
      try {
        codecKept.push({ flags: a.flags, type: a.type, value: encodeAttributeValue(a as PathAttribute, { asn4: ctx.asn4 }) });
      } catch {
        codecKept.push({ flags: a.flags, type: a.type, value: Uint8Array.of(0xde, 0xad) });
      }
    }
    const all = () => true;
    const keptDiff = diffMaps(
      attrMap(ref.kept.filter((a) => a.type !== 14 && a.type !== 15), asSize, all),
      attrMap(codecKept, asSize, all),
    );
    for (const d of keptDiff) add(`codec: kept attribute ${d.type} differs`, `reference ${d.want ?? '(none)'} codec ${d.got ?? '(none)'}`);
  }

  // --- reference vs live
  if (ref.kind === 'reset') {
    if (!lv.error) add(`live: no reset where the reference has ${verdictText(ref)}`, `reference: ${ref.reason}`);
    else if (lv.error.code !== ref.code || lv.error.subcode !== ref.subcode) {
      add(`live: reset ${lv.error.code}/${lv.error.subcode} where the reference has ${ref.code}/${ref.subcode}`, `reference: ${ref.reason} | live: ${lv.error.detail.split('\n')[0]}`);
    }
    // A reset UPDATE is not applied at all (the session goes down, RFC 4271 §6.3).
    if (lv.error && lv.routes.size > 0) add('live: routes installed from an UPDATE it resets the session for', `installed [${[...lv.routes.keys()].slice(0, 8)}] | live: ${lv.error.detail.split('\n')[0]}`);
  } else {
    if (lv.error) add(`live: reset ${lv.error.code}/${lv.error.subcode} where the reference has ok`, `live: ${lv.error.detail.split('\n')[0]} | reference problems: ${ref.problems.join('; ') || '-'}`);
    const expected = ref.treatAsWithdraw ? new Set<string>() : new Set(ref.announced);
    const got = new Set(lv.routes.keys());
    const missing = [...expected].filter((p) => !got.has(p));
    const extra = [...got].filter((p) => !expected.has(p));
    if (!lv.error && missing.length) add(`live: announced routes not installed${ref.announcedClassic.some((p) => missing.includes(p)) ? '' : ' (MP_REACH_NLRI)'}`, `missing [${missing.slice(0, 8)}] | reference problems: ${ref.problems.join('; ') || '-'}`);
    if (extra.length) add(`live: routes installed that the reference does not announce${ref.treatAsWithdraw ? ' (treat-as-withdraw)' : ''}`, `extra [${extra.slice(0, 8)}] | reference problems: ${ref.problems.join('; ') || '-'}`);
    // Stored attributes of each route both have.
    const classic = new Set(ref.announcedClassic);
    const mpSet = new Set(ref.announced.filter((_, i) => i >= ref.announcedClassic.length));
    const reported = new Set<string>();
    for (const [pfx, block] of lv.routes) {
      if (!expected.has(pfx)) continue;
      if (classic.has(pfx) && mpSet.has(pfx)) continue; // in both fields: undefined (RFC 4760 §3)
      const want = classic.has(pfx) ? ref.storedClassic : ref.storedMp;
      const parsed = tlvs(block);
      if (typeof parsed === 'string') {
        add('live: stored attribute block is malformed', `${pfx}: ${parsed} ${toHex(block)}`);
        continue;
      }
      const flagsOf = (t: number) => t !== 14;
      for (const d of diffMaps(attrMap(want, 4, flagsOf), attrMap(parsed, 4, flagsOf))) {
        const k = `live: stored attribute ${d.type} differs${d.got === undefined ? ' (missing)' : d.want === undefined ? ' (kept, reference drops it)' : ''}`;
        if (reported.has(k)) continue;
        reported.add(k);
        add(k, `${pfx}: reference ${d.want ?? '(none)'} live ${d.got ?? '(none)'}`);
      }
    }
  }
  return { ref, codec, live: lv, disagreements: out };
}

// ---------------------------------------------------------------------------------------------
// Shrinking

/** Candidate smaller messages: attributes dropped, fields emptied, then chunks of bytes cut. */
function* shrinkCandidates(msg: Uint8Array): Generator<Uint8Array> {
  const parts = split(msg);
  if (parts) {
    for (let i = 0; i < parts.attrs.length; i++) yield join({ ...parts, attrs: parts.attrs.filter((_, j) => j !== i) });
    if (parts.nlri.length) yield join({ ...parts, nlri: new Uint8Array(0) });
    if (parts.withdrawn.length) yield join({ ...parts, withdrawn: new Uint8Array(0) });
    for (let i = 0; i < parts.attrs.length; i++) {
      const a = parts.attrs[i];
      if (a.value.length > 1) {
        for (const cut of [a.value.length >> 1, a.value.length - 1]) {
          yield join({ ...parts, attrs: parts.attrs.map((x, j) => (j === i ? { ...x, value: x.value.slice(0, cut) } : x)) });
        }
      }
    }
  }
  for (const size of [64, 16, 4, 1]) {
    if (size > (msg.length - 19) / 2 && size > 1) continue;
    for (let at = msg.length - size; at >= 19; at -= size) {
      const m = new Uint8Array(msg.length - size);
      m.set(msg.subarray(0, at), 0);
      m.set(msg.subarray(at + size), at);
      if (m.length >= 23) yield fixHeader(m);
    }
  }
}

/** The smallest message found that still shows disagreement `kind` (bounded effort). */
export function shrink(msg: Uint8Array, ctx: RefContext, kind: string, live: LivePath, budget = 3000): Uint8Array {
  let best = msg;
  let tries = 0;
  for (let improved = true; improved && tries < budget; ) {
    improved = false;
    for (const c of shrinkCandidates(best)) {
      if (++tries > budget) break;
      if (c.length >= best.length) continue;
      if (runCase(c, ctx, live).disagreements.some((d) => d.kind === kind)) {
        best = c;
        improved = true;
        break;
      }
    }
  }
  return best;
}

export function ctxText(ctx: RefContext): string {
  return `asn4=${+ctx.asn4} ebgp=${+ctx.ebgp} addPath4=${+ctx.addPath4} addPath6=${+ctx.addPath6}`;
}

export function parseCtx(s: string): RefContext {
  const get = (k: string) => new RegExp(`${k}=1`).test(s);
  return { asn4: get('asn4'), ebgp: get('ebgp'), addPath4: get('addPath4'), addPath6: get('addPath6') };
}
