import { describe, expect, it } from 'vitest';
import {
  BgpError,
  encodeMessage,
  KEEPALIVE,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MessageType,
  readHeader,
} from '../../src/packet/index.js';

function expectError(fn: () => unknown, code: number, subcode: number, data?: number[]): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BgpError);
    const err = e as BgpError;
    expect([err.code, err.subcode]).toEqual([code, subcode]);
    if (data) expect([...err.data]).toEqual(data);
    return;
  }
  throw new Error('expected a BgpError');
}

describe('message header (RFC 4271 §4.1, §6.1)', () => {
  it('frames a KEEPALIVE', () => {
    expect(KEEPALIVE.length).toBe(19);
    expect(readHeader(KEEPALIVE, 0)).toEqual({ type: MessageType.KEEPALIVE, length: 19 });
  });

  it('rejects a broken marker with Connection Not Synchronized', () => {
    const m = KEEPALIVE.slice();
    m[3] = 0;
    expectError(() => readHeader(m, 0), 1, 1);
  });

  it('rejects a bad length with Bad Message Length carrying the length field', () => {
    const m = KEEPALIVE.slice();
    m[17] = 20;
    expectError(() => readHeader(m, 0), 1, 2, [0, 20]);
    const short = encodeMessage(MessageType.UPDATE, new Uint8Array(2));
    expectError(() => readHeader(short, 0), 1, 2, [0, 21]);
  });

  it('rejects an unknown type with Bad Message Type carrying the type', () => {
    const m = KEEPALIVE.slice();
    m[18] = 9;
    expectError(() => readHeader(m, 0), 1, 3, [9]);
  });

  it('allows 65535-octet UPDATEs only once extended messages are negotiated (RFC 8654)', () => {
    const big = encodeMessage(MessageType.UPDATE, new Uint8Array(5000));
    expectError(() => readHeader(big, 0), 1, 2);
    expect(readHeader(big, 0, MAX_EXTENDED_MESSAGE_LENGTH).length).toBe(5019);
    const bigOpen = encodeMessage(MessageType.OPEN, new Uint8Array(5000));
    expectError(() => readHeader(bigOpen, 0, MAX_EXTENDED_MESSAGE_LENGTH), 1, 2);
  });
});
