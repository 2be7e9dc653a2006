// The BMP exporter (RFC 7854; RFC 9069 for the Loc-RIB): one Station and one Feed per
// `[[bmp]]` table, wired to the speaker: the message tap for pre-policy Route Monitoring (set
// only while a station that wants it is connected), the neighbors' events for Peer Up and Peer
// Down with the reason, the RIB's best-path changes for the Loc-RIB. Started by `ribstorm run`.

import type { BmpConfig } from '../config/bmp.js';
import { State } from '../neighbor/fsm.js';
import type { Neighbor } from '../neighbor/neighbor.js';
import { encodeNotification, type NotificationMessage } from '../packet/index.js';
import type { BatchResult } from '../rib/apply.js';
import type { Speaker } from '../speaker/speaker.js';
import { log } from '../log.js';
import { FSM_EVENT_NUMBER, PeerDownReason, TerminationReason } from './constants.js';
import { Feed } from './feed.js';
import { termination } from './message.js';
import { speakerFeedSource } from './source.js';
import { Station, type StationCounters, type StationState } from './station.js';

/** One station as /metrics and the log show it. */
export interface StationStatus {
  /** "ADDR:PORT". */
  station: string;
  state: StationState;
  /** Octets waiting to be taken by the kernel. */
  backlog: number;
  counters: StationCounters;
  lastError: string;
}

export class BmpExporter {
  readonly stations: Station[] = [];
  private readonly feeds: Feed[] = [];
  private untap: (() => void) | null = null;
  /** The NOTIFICATION of each neighbor's current session, if one was sent or received. */
  private readonly notifications = new Map<Neighbor, { direction: 'sent' | 'received'; n: NotificationMessage }>();
  private readonly detach: Array<() => void> = [];
  private stopped = false;

  constructor(
    private readonly speaker: Speaker,
    configs: readonly BmpConfig[],
    version = '',
  ) {
    if (!speaker.rib) throw new Error('BMP needs the RIB');
    const src = speakerFeedSource(speaker, version);
    for (const c of configs) {
      const station = new Station(c.address, c.port, c.bufferBytes);
      const feed = new Feed(station, src, { prePolicy: c.monitoring.includes('pre-policy'), locRib: c.monitoring.includes('local-rib'), statisticsInterval: c.statisticsInterval });
      station.on('up', () => this.guard(station, 'connecting', () => {
        feed.connected();
        this.setTap();
      }));
      station.on('down', () => this.guard(station, 'disconnecting', () => {
        feed.disconnected();
        this.setTap();
      }));
      this.stations.push(station);
      this.feeds.push(feed);
    }
  }

  /** A failure of ours for one station is logged; it never reaches the speaker. */
  private guard(station: Station, what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      log(`${station.name}: internal error ${what}: ${(e as Error)?.stack ?? String(e)}`);
    }
  }

  private watch(n: Neighbor): void {
    const onEstablished = () => {
      this.notifications.delete(n);
      this.each((f) => f.established(n));
    };
    const onNotification = (direction: 'sent' | 'received', msg: NotificationMessage) => this.notifications.set(n, { direction, n: msg });
    const onState = (from: State, _to: State, event: string) => {
      // The NOTIFICATION a transition sends is sent after the new state is entered: decide
      // once the FSM's actions have run.
      if (from === State.Established) queueMicrotask(() => this.peerDown(n, event));
    };
    n.on('established', onEstablished);
    n.on('notification', onNotification);
    n.on('state', onState);
    this.detach.push(() => {
      n.off('established', onEstablished);
      n.off('notification', onNotification);
      n.off('state', onState);
    });
  }

  private each(fn: (f: Feed) => void): void {
    for (const f of this.feeds) this.guard(f.station, 'handing on an event', () => fn(f));
  }

  /** Listens to the neighbors (and those a reload adds) and the RIB, and connects to every station. */
  start(): void {
    for (const n of this.speaker.neighbors.values()) this.watch(n);
    const onAdded = (n: Neighbor) => this.watch(n);
    this.speaker.on('neighborAdded', onAdded);
    this.detach.push(() => this.speaker.off('neighborAdded', onAdded));
    const onChanges = (r: BatchResult) => this.each((f) => f.changes(r));
    this.speaker.rib!.on('changes', onChanges);
    this.detach.push(() => this.speaker.rib!.off('changes', onChanges));
    for (const s of this.stations) s.start();
  }

  /** RFC 7854 §4.9: why the session went down, with the NOTIFICATION or the FSM event. */
  private peerDown(n: Neighbor, event: string): void {
    const note = this.notifications.get(n);
    this.notifications.delete(n);
    if (note) {
      const reason = note.direction === 'sent' ? PeerDownReason.LocalNotification : PeerDownReason.RemoteNotification;
      const pdu = encodeNotification(note.n);
      this.each((f) => f.down(n, reason, pdu));
    } else if (event === 'TcpConnectionFails') {
      this.each((f) => f.down(n, PeerDownReason.RemoteNoNotification));
    } else {
      const code = Buffer.alloc(2);
      code.writeUInt16BE(FSM_EVENT_NUMBER[event] ?? 0);
      this.each((f) => f.down(n, PeerDownReason.LocalNoNotification, code));
    }
  }

  /** The tap is set while a connected station wants pre-policy messages, and only then. */
  private setTap(): void {
    const want = !this.stopped && this.feeds.some((f) => f.wantsMessages);
    if (want && !this.untap) {
      this.untap = this.speaker.tapMessages((n, msg) => {
        for (const f of this.feeds) if (f.wantsMessages) f.message(n, msg);
      });
    } else if (!want && this.untap) {
      this.untap();
      this.untap = null;
    }
  }

  status(): StationStatus[] {
    return this.stations.map((s) => ({
      station: `${s.address.includes(':') ? `[${s.address}]` : s.address}:${s.port}`,
      state: s.state,
      backlog: s.backlog,
      counters: { ...s.counters },
      lastError: s.lastError,
    }));
  }

  /** Termination (RFC 7854 §4.5) to every connected station, then the connections closed. */
  async stop(text = 'ribstorm shutting down'): Promise<void> {
    this.stopped = true;
    this.setTap();
    for (const d of this.detach.splice(0)) d();
    for (const f of this.feeds) f.disconnected();
    await Promise.all(this.stations.map((s) => s.stop(termination(TerminationReason.AdministrativelyClosed, text))));
  }
}
