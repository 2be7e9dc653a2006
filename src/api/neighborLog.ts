// What the management plane remembers of each neighbor beyond its counters: the last FSM
// transitions, sessions established and dropped (FRR's connectionsEstablished/Dropped), when
// the current session came up, and the time of each End-of-RIB (convergence).

import type { Neighbor } from '../neighbor/neighbor.js';
import { State, type Event } from '../neighbor/fsm.js';

export interface Transition {
  at: number;
  from: State;
  to: State;
  event: Event;
}

const KEEP_TRANSITIONS = 32;

export class NeighborLog {
  readonly transitions: Transition[] = [];
  connectionsEstablished = 0;
  connectionsDropped = 0;
  /** ms since the epoch: the current session's start, or the last change when down. */
  since = Date.now();
  /** Per family, ms since the epoch of the End-of-RIB received in the current session. */
  endOfRib: Record<string, number> = {};

  constructor(n: Neighbor) {
    n.on('state', (from, to, event) => {
      const at = Date.now();
      this.transitions.push({ at, from, to, event });
      if (this.transitions.length > KEEP_TRANSITIONS) this.transitions.shift();
      if (to === State.Established) {
        this.connectionsEstablished++;
        this.endOfRib = {};
      }
      if (from === State.Established) this.connectionsDropped++;
      if (to === State.Established || from === State.Established) this.since = at;
    });
    n.on('endOfRib', (family) => (this.endOfRib[family] ??= Date.now()));
  }
}
