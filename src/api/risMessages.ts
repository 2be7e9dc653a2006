// What a neighbor's session says besides its UPDATEs, as RIPE RIS Live's message types:
// RIS_PEER_STATE on entering or leaving Established, OPEN (sent and received) once up,
// NOTIFICATION either way, KEEPALIVE received. One source for every feed (WS /stream, NATS).

import { capabilitiesOf, capabilityName, type OpenMessage } from '../packet/index.js';
import { State } from '../neighbor/fsm.js';
import type { Neighbor } from '../neighbor/neighbor.js';

export type RisMessageType = 'RIS_PEER_STATE' | 'OPEN' | 'NOTIFICATION' | 'KEEPALIVE';

/** Calls `emit` with each message's type and its `data` fields (beside the envelope's). */
export function watchRisMessages(n: Neighbor, emit: (type: RisMessageType, fields: object) => void): void {
  n.on('state', (from, to) => {
    if (to === State.Established || from === State.Established) {
      emit('RIS_PEER_STATE', { state: to === State.Established ? 'connected' : 'down' });
    }
  });
  n.on('established', () => {
    emit('OPEN', openData('sent', n.localOpen));
    if (n.peerOpen) emit('OPEN', openData('received', n.peerOpen));
  });
  n.on('notification', (direction, msg) => {
    emit('NOTIFICATION', { direction, notification: { code: msg.code, subcode: msg.subcode, data: Buffer.from(msg.data).toString('hex').toUpperCase() } });
  });
  n.on('message', (direction, type) => {
    if (direction === 'in' && type === 4) emit('KEEPALIVE', {});
  });
}

/** An OPEN as RIS Live shows it: capabilities keyed by code. */
export function openData(direction: 'sent' | 'received', o: OpenMessage): object {
  const caps: Record<string, { name: string; families?: string[]; asn4?: number }> = {};
  for (const c of capabilitiesOf(o)) {
    const [name, detail] = capabilityName(c).split(':');
    const entry = (caps[String(c.code)] ??= { name });
    if (name === 'multiprotocol' && detail) (entry.families ??= []).push(detail.replace('-', '/'));
    if (name === 'asn4') entry.asn4 = (c as { asn: number }).asn;
  }
  return { direction, version: o.version, asn: o.myAs, hold_time: o.holdTime, router_id: o.bgpId, capabilities: caps };
}
