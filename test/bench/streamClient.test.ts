// The bench's stream client counts UPDATEs and announced prefixes from the bytes of each frame
// (harness/bench/streamClient.ts readStreamFrame): the same counts as parsing every message.
import { describe, expect, it } from 'vitest';
import { frameTimestamps, readStreamFrame } from '../../src/harness/bench/streamClient.js';

const msg = (data: Record<string, unknown>) => JSON.stringify({ type: 'ris_message', data: { peer: '127.0.103.2', peer_asn: '65001', id: 'h-1f', host: 'h', type: 'UPDATE', timestamp: 1764660000.5, ...data } });

function parsed(lines: string[]) {
  const r = { streamUpdates: 0, streamPrefixes: 0, streamError: null as string | null, streamTrailMs: 0 };
  for (const l of lines) {
    const m = JSON.parse(l);
    if (m.type === 'ris_error') r.streamError = m.data.message;
    if (m.type !== 'ris_message' || m.data.type !== 'UPDATE') continue;
    r.streamUpdates++;
    for (const a of m.data.announcements ?? []) r.streamPrefixes += a.prefixes.length;
  }
  return r;
}

describe('the bench stream client', () => {
  it('counts what parsing counts: several announcements, withdrawals only, other types, raw, ris_error', () => {
    const lines = [
      msg({ path: [65001, 3356], community: [[65001, 1]], announcements: [{ next_hop: '198.18.0.1', prefixes: ['10.0.0.0/24', '10.0.1.0/24'] }] }),
      msg({ withdrawals: ['10.0.2.0/24', '10.0.3.0/24'] }),
      msg({ withdrawals: ['10.0.4.0/24'] }),
      msg({ announcements: [{ next_hop: '198.18.0.1', prefixes: ['10.0.5.0/24'] }, { next_hop: '2001:db8::1,fe80::1', prefixes: ['2001:db8:1::/48', '2001:db8:2::/48', '2001:db8:3::/48'] }], withdrawals: ['10.0.6.0/24'], raw: 'FFFF' }),
      JSON.stringify({ type: 'ris_message', data: { peer: '127.0.103.2', peer_asn: '65001', id: 'h-20', host: 'h', type: 'KEEPALIVE', timestamp: 1 } }),
      msg({ announcements: [{ next_hop: '198.18.0.1', prefixes: ['10.0.7.0/24'], path_id: [1] }] }),
      JSON.stringify({ type: 'ris_error', data: { message: 'client too slow; disconnected' } }),
    ];
    const r = { streamUpdates: 0, streamPrefixes: 0, streamError: null as string | null, streamTrailMs: 0 };
    readStreamFrame(Buffer.from(lines.slice(0, 4).join('\n')), r);
    for (const l of lines.slice(4)) readStreamFrame(Buffer.from(l), r);
    expect(r).toEqual(parsed(lines));
    expect(r).toEqual({ streamUpdates: 5, streamPrefixes: 7, streamError: 'client too slow; disconnected', streamTrailMs: 0 });
  });

  it("reads each message's timestamp from a batched frame", () => {
    const lines = [msg({ timestamp: 1764660000.125, withdrawals: ['10.0.2.0/24'] }), msg({ timestamp: 1764660001, announcements: [{ next_hop: '198.18.0.1', prefixes: ['10.0.0.0/24'] }] })];
    const got: number[] = [];
    frameTimestamps(Buffer.from(lines.join('\n')), (t) => got.push(t));
    expect(got).toEqual(lines.map((l) => JSON.parse(l).data.timestamp));
  });
});
