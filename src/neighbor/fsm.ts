// The BGP finite state machine of RFC 4271 §8 as one explicit table of (state, event).
// The table only decides; the neighbor (neighbor.ts) carries out the actions in order.

export enum State {
  Idle = 'Idle',
  Connect = 'Connect',
  Active = 'Active',
  OpenSent = 'OpenSent',
  OpenConfirm = 'OpenConfirm',
  Established = 'Established',
}

/**
 * The states as numbers, idle(1) … established(6): BGP4-MIB's bgpPeerState (RFC 4273), and
 * MRT's BGP4MP_STATE_CHANGE (RFC 6396 §4.4.1).
 */
export const STATE_NUMBER: Readonly<Record<State, number>> = {
  [State.Idle]: 1,
  [State.Connect]: 2,
  [State.Active]: 3,
  [State.OpenSent]: 4,
  [State.OpenConfirm]: 5,
  [State.Established]: 6,
};

/** RFC 4271 §8.1 event names (DelayOpen events are not used); SendHoldTimer_Expires from RFC 9687. */
export enum Event {
  ManualStart = 'ManualStart',
  ManualStop = 'ManualStop',
  AutomaticStart = 'AutomaticStart',
  ManualStartPassive = 'ManualStart_with_PassiveTcpEstablishment',
  AutomaticStartPassive = 'AutomaticStart_with_PassiveTcpEstablishment',
  AutomaticStop = 'AutomaticStop',
  ConnectRetryTimerExpires = 'ConnectRetryTimer_Expires',
  HoldTimerExpires = 'HoldTimer_Expires',
  KeepaliveTimerExpires = 'KeepaliveTimer_Expires',
  TcpCrAcked = 'Tcp_CR_Acked',
  TcpConnectionConfirmed = 'TcpConnectionConfirmed',
  TcpConnectionFails = 'TcpConnectionFails',
  BgpOpen = 'BGPOpen',
  BgpHeaderErr = 'BGPHeaderErr',
  BgpOpenMsgErr = 'BGPOpenMsgErr',
  OpenCollisionDump = 'OpenCollisionDump',
  NotifMsgVerErr = 'NotifMsgVerErr',
  NotifMsg = 'NotifMsg',
  KeepAliveMsg = 'KeepAliveMsg',
  UpdateMsg = 'UpdateMsg',
  UpdateMsgErr = 'UpdateMsgErr',
  RouteRefreshMsg = 'RouteRefreshMsg',
  SendHoldTimerExpires = 'SendHoldTimer_Expires',
}

export enum Action {
  ConnectRetryCounterReset = 'connectRetryCounterReset',
  ConnectRetryCounterIncrement = 'connectRetryCounterIncrement',
  ConnectRetryTimerStart = 'connectRetryTimerStart',
  ConnectRetryTimerStop = 'connectRetryTimerStop',
  Connect = 'connect',
  DropConnection = 'dropConnection',
  SendOpen = 'sendOpen',
  SendKeepalive = 'sendKeepalive',
  /** Sends the NOTIFICATION the event carries (a decode error, or an administrative Cease). */
  SendNotification = 'sendNotification',
  /** Finite State Machine Error with the RFC 6608 subcode of the current state. */
  SendFsmError = 'sendFsmError',
  SendHoldTimerExpired = 'sendHoldTimerExpired',
  SendSendHoldTimerExpired = 'sendSendHoldTimerExpired',
  SendCollisionCease = 'sendCollisionCease',
  HoldTimerStartLarge = 'holdTimerStartLarge',
  HoldTimerStartNegotiated = 'holdTimerStartNegotiated',
  HoldTimerRestart = 'holdTimerRestart',
  KeepaliveTimerStart = 'keepaliveTimerStart',
  StopTimers = 'stopTimers',
  /** Schedules the automatic restart after the idle-hold back-off, and grows the back-off. */
  IdleHoldStart = 'idleHoldStart',
  SessionUp = 'sessionUp',
  ProcessUpdate = 'processUpdate',
  ProcessRouteRefresh = 'processRouteRefresh',
}

export interface Transition {
  next: State;
  actions: Action[];
}

type Row = Partial<Record<Event | '*', Transition>>;

const A = Action;
const S = State;

/** Tearing a session down after an error: the RFC's common tail, plus the idle-hold back-off. */
const down = (...first: Action[]): Transition => ({
  next: S.Idle,
  actions: [...first, A.StopTimers, A.DropConnection, A.ConnectRetryCounterIncrement, A.IdleHoldStart],
});

/** An operator stop: no back-off, the counter is reset (RFC 4271 §8.2.2, Event 2). */
const stop = (...first: Action[]): Transition => ({
  next: S.Idle,
  actions: [...first, A.StopTimers, A.DropConnection, A.ConnectRetryCounterReset],
});

const openSentOrConfirmCommon: Row = {
  [Event.ManualStop]: stop(A.SendNotification),
  [Event.AutomaticStop]: down(A.SendNotification),
  [Event.HoldTimerExpires]: down(A.SendHoldTimerExpired),
  [Event.SendHoldTimerExpires]: down(A.SendSendHoldTimerExpired),
  [Event.BgpHeaderErr]: down(A.SendNotification),
  [Event.BgpOpenMsgErr]: down(A.SendNotification),
  [Event.OpenCollisionDump]: down(A.SendCollisionCease),
  [Event.NotifMsgVerErr]: { next: S.Idle, actions: [A.StopTimers, A.DropConnection] },
  [Event.NotifMsg]: down(),
  '*': down(A.SendFsmError),
};

export const TABLE: Record<State, Row> = {
  [S.Idle]: {
    [Event.ManualStart]: { next: S.Connect, actions: [A.ConnectRetryCounterReset, A.ConnectRetryTimerStart, A.Connect] },
    [Event.AutomaticStart]: { next: S.Connect, actions: [A.ConnectRetryTimerStart, A.Connect] },
    // A passive peer never opens a connection, so it needs no ConnectRetryTimer.
    [Event.ManualStartPassive]: { next: S.Active, actions: [A.ConnectRetryCounterReset] },
    [Event.AutomaticStartPassive]: { next: S.Active, actions: [] },
    // Everything else is ignored in Idle (§8.2.2): incoming connections are refused by the caller.
    '*': { next: S.Idle, actions: [] },
  },
  [S.Connect]: {
    [Event.ManualStop]: stop(),
    [Event.ConnectRetryTimerExpires]: { next: S.Connect, actions: [A.DropConnection, A.ConnectRetryTimerStart, A.Connect] },
    [Event.TcpCrAcked]: { next: S.OpenSent, actions: [A.ConnectRetryTimerStop, A.SendOpen, A.HoldTimerStartLarge] },
    [Event.TcpConnectionConfirmed]: { next: S.OpenSent, actions: [A.ConnectRetryTimerStop, A.SendOpen, A.HoldTimerStartLarge] },
    [Event.TcpConnectionFails]: { next: S.Active, actions: [A.DropConnection, A.ConnectRetryTimerStart] },
    '*': down(),
  },
  [S.Active]: {
    [Event.ManualStop]: stop(),
    [Event.ConnectRetryTimerExpires]: { next: S.Connect, actions: [A.ConnectRetryTimerStart, A.Connect] },
    [Event.TcpCrAcked]: { next: S.OpenSent, actions: [A.ConnectRetryTimerStop, A.SendOpen, A.HoldTimerStartLarge] },
    [Event.TcpConnectionConfirmed]: { next: S.OpenSent, actions: [A.ConnectRetryTimerStop, A.SendOpen, A.HoldTimerStartLarge] },
    [Event.TcpConnectionFails]: down(),
    '*': down(),
  },
  [S.OpenSent]: {
    ...openSentOrConfirmCommon,
    // §8.2.2: the connection failed before the OPEN arrived; listen again.
    [Event.TcpConnectionFails]: { next: S.Active, actions: [A.StopTimers, A.DropConnection, A.ConnectRetryTimerStart] },
    [Event.BgpOpen]: { next: S.OpenConfirm, actions: [A.ConnectRetryTimerStop, A.SendKeepalive, A.KeepaliveTimerStart, A.HoldTimerStartNegotiated] },
  },
  [S.OpenConfirm]: {
    ...openSentOrConfirmCommon,
    [Event.TcpConnectionFails]: down(),
    [Event.KeepaliveTimerExpires]: { next: S.OpenConfirm, actions: [A.SendKeepalive, A.KeepaliveTimerStart] },
    [Event.KeepAliveMsg]: { next: S.Established, actions: [A.HoldTimerRestart, A.SessionUp] },
  },
  [S.Established]: {
    [Event.ManualStop]: stop(A.SendNotification),
    [Event.AutomaticStop]: down(A.SendNotification),
    [Event.HoldTimerExpires]: down(A.SendHoldTimerExpired),
    [Event.SendHoldTimerExpires]: down(A.SendSendHoldTimerExpired),
    [Event.KeepaliveTimerExpires]: { next: S.Established, actions: [A.SendKeepalive, A.KeepaliveTimerStart] },
    [Event.KeepAliveMsg]: { next: S.Established, actions: [A.HoldTimerRestart] },
    [Event.UpdateMsg]: { next: S.Established, actions: [A.HoldTimerRestart, A.ProcessUpdate] },
    [Event.RouteRefreshMsg]: { next: S.Established, actions: [A.HoldTimerRestart, A.ProcessRouteRefresh] },
    [Event.UpdateMsgErr]: down(A.SendNotification),
    [Event.BgpHeaderErr]: down(A.SendNotification),
    [Event.OpenCollisionDump]: down(A.SendCollisionCease),
    [Event.TcpConnectionFails]: down(),
    [Event.NotifMsgVerErr]: down(),
    [Event.NotifMsg]: down(),
    '*': down(A.SendFsmError),
  },
};

/** Looks up the transition for (state, event); every pair has one. */
export function transition(state: State, event: Event): Transition {
  const row = TABLE[state];
  return row[event] ?? row['*']!;
}
