// The `[nats]` table: where the NATS JetStream feed goes (url, stream, subject template),
// in which shape (RIS Live JSON or msgpack), and how much it may hold while the server is
// slow or away. Validated like the rest: one line naming the field.

import { ConfigError, Fields, type Obj } from './fields.js';

export type NatsFormat = 'json' | 'msgpack';

export interface NatsConfig {
  /** One server or several, comma-separated: "nats://127.0.0.1:4222". */
  url: string;
  /** The JetStream stream; created (subjects from `subject`) when missing. */
  stream: string;
  /** Subject template: `{collector}`, `{peer}` and `{type}` are replaced per message. */
  subject: string;
  /** This speaker's name in subjects and in every message's `host`; default: the router id. */
  collector?: string;
  format: NatsFormat;
  /** What waits for the server (queued and unacknowledged) before new messages are dropped. */
  bufferBytes: number;
  /** NATS messages published and not yet acknowledged, at most. */
  maxInFlight: number;
  /** Seconds to wait for an acknowledgement before the server counts as stalled. */
  ackTimeout: number;
}

export const DEFAULT_NATS_STREAM = 'RIBSTORM';
export const DEFAULT_NATS_SUBJECT = 'ribstorm.{collector}.{peer}.{type}';
/** A [nats] table with only its url. */
export function natsDefaults(url: string): NatsConfig {
  return { url, stream: DEFAULT_NATS_STREAM, subject: DEFAULT_NATS_SUBJECT, format: 'json', bufferBytes: 64 << 20, maxInFlight: 64, ackTimeout: 5 };
}

const PLACEHOLDERS = ['{collector}', '{peer}', '{type}'];

/** A stream name NATS takes: no spaces, dots, wildcards or path separators. */
export function checkStreamName(name: unknown, field: string): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new ConfigError(field, 'a stream name of letters, digits, "_" and "-"', name);
  return name;
}

/** A subject token of a collector's name: letters, digits, "_" and "-". */
export function checkCollector(name: unknown, field: string): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new ConfigError(field, 'a name of letters, digits, "_" and "-" (one subject token)', name);
  return name;
}

/** "nats://host:port" (or several, comma-separated; the scheme may be left out). */
export function checkNatsUrl(url: unknown, field: string): string {
  const ok = typeof url === 'string' && url.length > 0 && url.split(',').every((u) => /^((nats|tls):\/\/)?[^\s/,]+(:\d{1,5})?\/?$/.test(u.trim()));
  if (!ok) throw new ConfigError(field, 'a NATS server URL such as "nats://127.0.0.1:4222"', url);
  return url as string;
}

/** Dot-separated tokens, each literal or made of placeholders; {peer} and {type} must be there. */
function checkSubject(s: unknown, field: string): string {
  const expected = 'a subject template such as "ribstorm.{collector}.{peer}.{type}" ({peer} and {type} required; no wildcards or spaces)';
  if (typeof s !== 'string') throw new ConfigError(field, expected, s);
  const tokens = s.split('.');
  const bad = tokens.some((t) => t === '' || /[\s*>]/.test(t) || /[{}]/.test(PLACEHOLDERS.reduce((x, p) => x.split(p).join(''), t)));
  if (bad || !s.includes('{peer}') || !s.includes('{type}')) throw new ConfigError(field, expected, s);
  return s;
}

export function validateNats(obj: unknown): NatsConfig | undefined {
  if (obj === undefined) return undefined;
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new ConfigError('nats', 'a [nats] table', obj);
  const f = new Fields(obj as Obj, 'nats');
  const url = checkNatsUrl(f.raw('url'), 'nats.url');
  const stream = f.has('stream') ? checkStreamName(f.raw('stream'), 'nats.stream') : DEFAULT_NATS_STREAM;
  const subject = f.has('subject') ? checkSubject(f.raw('subject'), 'nats.subject') : DEFAULT_NATS_SUBJECT;
  const collector = f.has('collector') ? checkCollector(f.raw('collector'), 'nats.collector') : (f.raw('collector'), undefined);
  const format = f.oneOf('format', ['json', 'msgpack'] as const, 'json');
  const d = natsDefaults(url);
  const bufferBytes = f.int('buffer-bytes', 1 << 16, 2 ** 34, d.bufferBytes, 'bytes from 65536 to 17179869184');
  const maxInFlight = f.int('max-in-flight', 1, 4096, d.maxInFlight);
  const ackTimeout = f.int('ack-timeout', 1, 600, d.ackTimeout, 'seconds from 1 to 600');
  f.done();
  return { url, stream, subject, collector, format, bufferBytes, maxInFlight, ackTimeout };
}
