import { describe, expect, it } from 'vitest';
import { Action, Event, State, TABLE, transition } from '../../src/neighbor/fsm.js';

describe('FSM table (RFC 4271 §8)', () => {
  it('has a transition for every (state, event) pair', () => {
    for (const s of Object.values(State)) {
      for (const e of Object.values(Event)) {
        expect(transition(s, e), `${s} ${e}`).toBeDefined();
        expect(Object.values(State)).toContain(transition(s, e).next);
      }
    }
    expect(Object.keys(TABLE).sort()).toEqual(Object.values(State).sort());
  });

  it('walks the happy path from Idle to Established', () => {
    expect(transition(State.Idle, Event.ManualStart)).toMatchObject({ next: State.Connect, actions: expect.arrayContaining([Action.Connect]) });
    expect(transition(State.Connect, Event.TcpCrAcked)).toMatchObject({ next: State.OpenSent, actions: expect.arrayContaining([Action.SendOpen]) });
    expect(transition(State.OpenSent, Event.BgpOpen)).toMatchObject({ next: State.OpenConfirm, actions: expect.arrayContaining([Action.SendKeepalive]) });
    expect(transition(State.OpenConfirm, Event.KeepAliveMsg).next).toBe(State.Established);
  });

  it('answers unexpected messages with a Finite State Machine Error', () => {
    expect(transition(State.OpenSent, Event.KeepAliveMsg)).toMatchObject({ next: State.Idle, actions: expect.arrayContaining([Action.SendFsmError]) });
    expect(transition(State.OpenConfirm, Event.UpdateMsg)).toMatchObject({ next: State.Idle, actions: expect.arrayContaining([Action.SendFsmError]) });
    expect(transition(State.Established, Event.BgpOpen)).toMatchObject({ next: State.Idle, actions: expect.arrayContaining([Action.SendFsmError]) });
  });

  it('backs off after failures but not after an operator stop', () => {
    expect(transition(State.Established, Event.HoldTimerExpires).actions).toEqual(expect.arrayContaining([Action.SendHoldTimerExpired, Action.IdleHoldStart]));
    expect(transition(State.Established, Event.ManualStop).actions).not.toContain(Action.IdleHoldStart);
    expect(transition(State.Established, Event.ManualStop).actions).toContain(Action.SendNotification);
  });

  it('a passive start waits in Active without connecting', () => {
    expect(transition(State.Idle, Event.ManualStartPassive)).toEqual({ next: State.Active, actions: [Action.ConnectRetryCounterReset] });
    expect(transition(State.Idle, Event.TcpConnectionConfirmed).next).toBe(State.Idle);
  });
});
