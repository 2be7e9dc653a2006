// RFC 4271 §4.1 message header: 16-octet marker, 2-octet length, 1-octet type.

import {
  HEADER_LENGTH,
  MARKER_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageType,
  MIN_LENGTH,
} from './constants.js';
import { BgpError, ErrorCode, HeaderSubcode } from './errors.js';

export interface MessageHeader {
  type: number;
  length: number;
}

/** Wraps a message body in a header. */
export function encodeMessage(type: MessageType, body: Uint8Array): Uint8Array {
  const length = HEADER_LENGTH + body.length;
  const out = new Uint8Array(length);
  out.fill(0xff, 0, MARKER_LENGTH);
  out[16] = length >> 8;
  out[17] = length & 0xff;
  out[18] = type;
  out.set(body, HEADER_LENGTH);
  return out;
}

export const KEEPALIVE: Uint8Array = encodeMessage(MessageType.KEEPALIVE, new Uint8Array(0));

/**
 * Validates the header at `off` (RFC 4271 §6.1) and returns its type and length.
 * `maxLength` is 4096, or 65535 for UPDATE and ROUTE-REFRESH once RFC 8654 is negotiated;
 * OPEN and KEEPALIVE stay limited to 4096 (RFC 8654 §3). Throws the NOTIFICATION to send.
 */
export function readHeader(buf: Uint8Array, off: number, maxLength = MAX_MESSAGE_LENGTH): MessageHeader {
  for (let i = 0; i < MARKER_LENGTH; i++) {
    if (buf[off + i] !== 0xff) throw new BgpError(ErrorCode.MessageHeader, HeaderSubcode.ConnectionNotSynchronized);
  }
  const length = (buf[off + 16] << 8) | buf[off + 17];
  const type = buf[off + 18];
  const min = MIN_LENGTH[type];
  if (min === undefined) {
    throw new BgpError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageType, Uint8Array.of(type));
  }
  const limit = type === MessageType.OPEN || type === MessageType.KEEPALIVE ? MAX_MESSAGE_LENGTH : maxLength;
  const badLength =
    length < min ||
    length > limit ||
    (type === MessageType.KEEPALIVE && length !== HEADER_LENGTH);
  if (badLength) {
    throw new BgpError(
      ErrorCode.MessageHeader,
      HeaderSubcode.BadMessageLength,
      Uint8Array.of(length >> 8, length & 0xff),
      `${length} octets for type ${type}`,
    );
  }
  return { type, length };
}

/** A ROUTE-REFRESH of the wrong length is its own error (RFC 7313 §5), checked after framing. */
export function checkRouteRefreshLength(length: number, message: Uint8Array): void {
  if (length !== 23) throw new BgpError(ErrorCode.RouteRefreshMessage, 1, message);
}
