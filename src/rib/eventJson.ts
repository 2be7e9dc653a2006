// The common UPDATE event as JSON text written straight from the message's bytes: a clean
// UPDATE (RFC 7606 finds nothing) on a 4-octet-AS session, unicast families. No objects between
// the bytes and the text, so watching the feed costs the workers little. Everything else
// (treat-as-withdraw, discarded attributes, AS4_PATH merging, other families) returns null and
// takes the codec's way (events.ts updateEvent); both give the same text.

import { checkAttributes, BlockVerdict, type AttrContext } from '../packet/attr/validate.js';
import { AttrWalker } from '../packet/attr/walk.js';
import { AsPathSegmentType, AttrType } from '../packet/constants.js';
import { formatPrefix, ipv6FromBytes } from '../packet/address.js';
import { PrefixWalker } from '../packet/nlri.js';

const ORIGINS = ['IGP', 'EGP', 'INCOMPLETE'];
const verdict = new BlockVerdict();
const attrs = new AttrWalker();
const prefixes = new PrefixWalker();
const v6 = new Uint8Array(16);

const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/** One family's prefixes at b[start, end) as JSON strings, and their path identifiers; false when malformed. */
function prefixList(b: Uint8Array, start: number, end: number, afi: number, addPath: boolean, texts: string[], ids: number[]): boolean {
  const w = prefixes.reset(b, start, end, afi, addPath);
  while (w.next()) {
    const n = (w.length + 7) >> 3;
    const a = w.at;
    if (afi === 1) texts.push(`"${n > 0 ? b[a] : 0}.${n > 1 ? b[a + 1] : 0}.${n > 2 ? b[a + 2] : 0}.${n > 3 ? b[a + 3] : 0}/${w.length}"`);
    else {
      v6.fill(0);
      v6.set(b.subarray(a, a + n));
      texts.push(`"${formatPrefix(2, v6, w.length)}"`);
    }
    ids.push(addPath ? w.pathId : 0);
  }
  return w.error === null;
}

/** An announcement entry as updateEvent writes it. */
function entry(nextHop: string, texts: string[], ids: number[], withIds: boolean): string {
  return `{"next_hop":"${nextHop}","prefixes":[${texts.join(',')}]${withIds ? `,"path_id":[${ids.join(',')}]` : ''}}`;
}

const hex = (b: Uint8Array, start: number, end: number) => Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('hex');

/**
 * The event of the UPDATE `msg` (header included) as JSON text, or null when the codec must
 * decode it. `raw` adds the message in uppercase hex as the last field.
 */
export function updateEventJson(msg: Uint8Array, ctx: AttrContext, timestamp: number, raw: boolean): string | null {
  if (!ctx.asn4 || msg.length < 23) return null;
  const wEnd = 21 + ((msg[19] << 8) | msg[20]);
  const aStart = wEnd + 2;
  const aEnd = aStart + ((msg[wEnd] << 8) | msg[wEnd + 1]);
  if (aEnd > msg.length) return null;
  const v = checkAttributes(msg, aStart, aEnd, ctx, aEnd < msg.length, verdict);
  if (v.verdict !== 0 || v.drop.length > 0) return null;
  const add4 = !!ctx.addPath?.ipv4;
  const add6 = !!ctx.addPath?.ipv6;
  const withIds = add4 || add6;
  let out = `{"timestamp":${timestamp}`;
  let nextHop = '';
  let reachHop = '';
  const reach: string[] = [];
  const reachIds: number[] = [];
  const gone: string[] = [];
  const goneIds: number[] = [];
  let unreach: [number, number, number] | null = null;
  const w = attrs.reset(msg, aStart, aEnd);
  while (w.next()) {
    const p = w.value;
    const len = w.length;
    switch (w.type) {
      case AttrType.ORIGIN:
        out += `,"origin":"${ORIGINS[msg[p]]}"`;
        break;
      case AttrType.AS_PATH: {
        const parts: string[] = [];
        for (let o = p; o + 2 <= p + len; ) {
          const type = msg[o];
          const n = msg[o + 1];
          const asns: number[] = [];
          for (let i = 0; i < n; i++) asns.push(u32(msg, o + 2 + i * 4));
          o += 2 + n * 4;
          if (type === AsPathSegmentType.AS_SET || type === AsPathSegmentType.AS_CONFED_SET) parts.push(`[${asns.join(',')}]`);
          else if (n > 0) parts.push(asns.join(','));
        }
        out += `,"path":[${parts.join(',')}]`;
        break;
      }
      case AttrType.NEXT_HOP:
        nextHop = `${msg[p]}.${msg[p + 1]}.${msg[p + 2]}.${msg[p + 3]}`;
        break;
      case AttrType.MULTI_EXIT_DISC:
        out += `,"med":${u32(msg, p)}`;
        break;
      case AttrType.LOCAL_PREF:
        out += `,"local_pref":${u32(msg, p)}`;
        break;
      case AttrType.ATOMIC_AGGREGATE:
        out += ',"atomic_aggregate":true';
        break;
      case AttrType.AGGREGATOR:
        out += `,"aggregator":"${u32(msg, p)}:${msg[p + 4]}.${msg[p + 5]}.${msg[p + 6]}.${msg[p + 7]}"`;
        break;
      case AttrType.COMMUNITIES: {
        const c: string[] = [];
        for (let o = p; o < p + len; o += 4) c.push(`[${(msg[o] << 8) | msg[o + 1]},${(msg[o + 2] << 8) | msg[o + 3]}]`);
        out += `,"community":[${c.join(',')}]`;
        break;
      }
      case AttrType.EXTENDED_COMMUNITIES: {
        const c: string[] = [];
        for (let o = p; o < p + len; o += 8) c.push(`"${hex(msg, o, o + 8)}"`);
        out += `,"extended_community":[${c.join(',')}]`;
        break;
      }
      case AttrType.LARGE_COMMUNITY: {
        const c: string[] = [];
        for (let o = p; o < p + len; o += 12) c.push(`[${u32(msg, o)},${u32(msg, o + 4)},${u32(msg, o + 8)}]`);
        out += `,"large_community":[${c.join(',')}]`;
        break;
      }
      case AttrType.OTC:
        out += `,"otc":${u32(msg, p)}`;
        break;
      case AttrType.MP_REACH_NLRI: {
        const afi = (msg[p] << 8) | msg[p + 1];
        const nhl = msg[p + 3];
        if (msg[p + 2] !== 1 || !((afi === 1 && nhl === 4) || (afi === 2 && (nhl === 16 || nhl === 32)))) return null;
        const hops: string[] = [];
        for (let o = p + 4; o < p + 4 + nhl; o += afi === 1 ? 4 : 16) hops.push(afi === 1 ? `${msg[o]}.${msg[o + 1]}.${msg[o + 2]}.${msg[o + 3]}` : ipv6FromBytes(msg, o));
        reachHop = hops.join(',');
        if (!prefixList(msg, p + 5 + nhl, p + len, afi, afi === 1 ? add4 : add6, reach, reachIds)) return null;
        break;
      }
      case AttrType.MP_UNREACH_NLRI: {
        const afi = (msg[p] << 8) | msg[p + 1];
        if (msg[p + 2] !== 1 || (afi !== 1 && afi !== 2)) return null;
        unreach = [afi, p + 3, p + len];
        break;
      }
    }
  }
  // The IPv4 fields first, as updateEvent lists them: Withdrawn Routes, then MP_UNREACH_NLRI.
  if (!prefixList(msg, 21, wEnd, 1, add4, gone, goneIds)) return null;
  if (unreach && !prefixList(msg, unreach[1], unreach[2], unreach[0], unreach[0] === 1 ? add4 : add6, gone, goneIds)) return null;
  const nlri: string[] = [];
  const nlriIds: number[] = [];
  if (!prefixList(msg, aEnd, msg.length, 1, add4, nlri, nlriIds)) return null;
  const entries: string[] = [];
  if (nlri.length && reach.length && reachHop === nextHop) entries.push(entry(nextHop, [...nlri, ...reach], [...nlriIds, ...reachIds], withIds));
  else {
    if (nlri.length) entries.push(entry(nextHop, nlri, nlriIds, withIds));
    if (reach.length) entries.push(entry(reachHop, reach, reachIds, withIds));
  }
  if (entries.length) out += `,"announcements":[${entries.join(',')}]`;
  if (gone.length) out += `,"withdrawals":[${gone.join(',')}]${withIds ? `,"withdrawal_path_ids":[${goneIds.join(',')}]` : ''}`;
  if (raw) out += `,"raw":"${hex(msg, 0, msg.length).toUpperCase()}"`;
  return out + '}';
}
