// Names on the bus: subjects from the `[nats] subject` template (collector, peer and message
// type as subject tokens), the stream's subject filter derived from it, and the headers every
// published message carries so that a consumer can rebuild the peer's RIB from the message
// alone (who sent it, in which shape, and what the session negotiated).

/** Header: the peer and its session (SessionInfo as JSON). */
export const PEER_HEADER = 'Ribstorm-Peer';
/** Header: the RIS Live message type of every message in the body. */
export const TYPE_HEADER = 'Ribstorm-Type';
/** Header: "json" (one RIS Live `data` object per line) or "msgpack" (an array of them). */
export const FORMAT_HEADER = 'Ribstorm-Format';

/**
 * A peer as a consumer needs it: the collector that heard it, its address, and what the RIB
 * needs to check and decide its UPDATEs the way the collector did.
 */
export interface SessionInfo {
  collector: string;
  peer: string;
  asn: number;
  /** The peer's BGP Identifier (dotted quad; "0.0.0.0" before the first session). */
  id: string;
  ebgp: boolean;
  asn4: boolean;
  /** RFC 7911: path identifiers received for IPv4 / IPv6 unicast. */
  addPath: boolean;
  addPath6: boolean;
}

/** One subject token: dots, colons and anything else NATS reserves become "_". */
export function subjectToken(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '_') || '_';
}

/** The subject of one message. */
export function renderSubject(template: string, collector: string, peer: string, type: string): string {
  return template.replaceAll('{collector}', subjectToken(collector)).replaceAll('{peer}', subjectToken(peer)).replaceAll('{type}', subjectToken(type));
}

/** What the stream takes: every token holding a placeholder becomes "*". */
export function streamSubject(template: string): string {
  return template
    .split('.')
    .map((t) => (t.includes('{') ? '*' : t))
    .join('.');
}

/** A collector's default name: its router id as one subject token. */
export function defaultCollector(routerId: string): string {
  return subjectToken(routerId);
}

/** Reads a PEER_HEADER back; null when it is not one. */
export function parseSessionInfo(text: string | undefined): SessionInfo | null {
  if (!text) return null;
  let v: Partial<SessionInfo>;
  try {
    v = JSON.parse(text) as Partial<SessionInfo>;
  } catch {
    return null;
  }
  if (!v || typeof v.collector !== 'string' || typeof v.peer !== 'string' || typeof v.asn !== 'number' || typeof v.id !== 'string') return null;
  return { collector: v.collector, peer: v.peer, asn: v.asn, id: v.id, ebgp: !!v.ebgp, asn4: !!v.asn4, addPath: !!v.addPath, addPath6: !!v.addPath6 };
}
