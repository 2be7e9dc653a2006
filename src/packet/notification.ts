// NOTIFICATION (RFC 4271 §4.5) with the shutdown communication of RFC 8203 / RFC 9003.

import { HEADER_LENGTH, MessageType } from './constants.js';
import { CeaseSubcode, ErrorCode, errorName } from './errors.js';
import { encodeMessage } from './header.js';

export interface NotificationMessage {
  code: number;
  subcode: number;
  data: Uint8Array;
}

/** RFC 9003 §2: at most 255 octets of UTF-8. */
export const MAX_SHUTDOWN_COMMUNICATION = 255;

export function decodeNotification(msg: Uint8Array): NotificationMessage {
  return { code: msg[HEADER_LENGTH], subcode: msg[HEADER_LENGTH + 1], data: msg.slice(HEADER_LENGTH + 2) };
}

export function encodeNotification(n: NotificationMessage): Uint8Array {
  const body = new Uint8Array(2 + n.data.length);
  body[0] = n.code;
  body[1] = n.subcode;
  body.set(n.data, 2);
  return encodeMessage(MessageType.NOTIFICATION, body);
}

function carriesCommunication(code: number, subcode: number): boolean {
  return code === ErrorCode.Cease &&
    (subcode === CeaseSubcode.AdministrativeShutdown || subcode === CeaseSubcode.AdministrativeReset);
}

/** Encodes the shutdown communication, cut at a UTF-8 character boundary to 255 octets. */
export function encodeShutdownCommunication(text: string): Uint8Array {
  let bytes = Buffer.from(text, 'utf8');
  if (bytes.length > MAX_SHUTDOWN_COMMUNICATION) {
    let cut = MAX_SHUTDOWN_COMMUNICATION;
    while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--;
    bytes = bytes.subarray(0, cut);
  }
  const out = new Uint8Array(1 + bytes.length);
  out[0] = bytes.length;
  out.set(bytes, 1);
  return out;
}

export function cease(subcode: number, text?: string): NotificationMessage {
  const data = text !== undefined && carriesCommunication(ErrorCode.Cease, subcode)
    ? encodeShutdownCommunication(text)
    : new Uint8Array(0);
  return { code: ErrorCode.Cease, subcode, data };
}

/**
 * The shutdown communication of a Cease / Administrative Shutdown or Reset, or null when
 * there is none or it is malformed (RFC 9003 §3: then it is logged as data, not as text).
 */
export function shutdownCommunication(n: NotificationMessage): string | null {
  if (!carriesCommunication(n.code, n.subcode) || n.data.length === 0) return null;
  const len = n.data[0];
  if (len === 0 || len + 1 > n.data.length) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(n.data.subarray(1, 1 + len));
  } catch {
    return null;
  }
}

/** One line for logs and the management interface. */
export function describeNotification(n: NotificationMessage): string {
  const name = `${errorName(n.code, n.subcode)} (${n.code}/${n.subcode})`;
  const text = shutdownCommunication(n);
  if (text !== null) return `${name} "${text}"`;
  return n.data.length ? `${name} data ${Buffer.from(n.data).toString('hex')}` : name;
}
