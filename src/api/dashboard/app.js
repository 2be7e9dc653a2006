// ribstorm's status page: the neighbors table (GET /neighbors every 2 s), one neighbor in
// detail, route lookups (GET /rib), the RIS Live tail (WS /stream) and the convergence panel.
// Every value from the speaker is put in the page as text (h(), dom.js): nothing is parsed as HTML.

import { $, h, num, cell, numCell, clock, secs, rate, bytes, getJSON, badge, stateBadge, chart } from './dom.js';

const POLL_MS = 2000;
const TAIL_LINES_PER_S = 20;
const TAIL_KEEP = 200;
const SPARK_SECONDS = 120;
const HISTORY_POINTS = 150;
const DETAILS_PER_POLL = 4;
const LOOKUP_ROWS = 2000;

// ---- neighbors ----------------------------------------------------------------------------

const state = { summary: null, rss: null, selected: null, details: new Map(), prev: null };

function lastReset(p) {
  if (!p.lastResetDueTo) return cell('');
  return h('td', { class: 'reset', title: `code/subcode ${p.lastResetCode ?? '?'}` }, p.lastResetDueTo);
}

/** Under pfxRcd, with a max-prefix: how full the limit is (amber past its warning share, red past it). */
function limitBar(p) {
  const l = p.prefixLimit;
  if (!l) return null;
  const pct = (100 * p.pfxRcd) / l.maxPrefixes;
  const level = pct >= 100 ? 'over' : pct >= l.warningThresholdPct ? 'warn' : 'ok';
  const title = `${num(p.pfxRcd)} of max-prefix ${num(l.maxPrefixes)} (${pct.toFixed(0)}%), action ${l.action}`;
  return h('div', { class: `pfx-limit ${level}`, title, role: 'meter', 'aria-valuenow': Math.round(pct), 'aria-valuemax': 100 }, h('span', { style: `width:${Math.min(100, pct).toFixed(1)}%` }));
}

function renderNeighbors(s) {
  const peers = Object.entries(s.peers).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  const rows = peers.map(([addr, p]) =>
    h(
      'tr',
      { 'data-peer': addr, tabindex: 0, class: addr === state.selected ? 'sel' : '', onclick: () => select(addr), onkeydown: (e) => e.key === 'Enter' && select(addr) },
      cell(addr, 'mono'), cell(p.remoteAs, 'num'), cell(p.description, 'desc'), h('td', { class: 'c-state' }, stateBadge(p)),
      cell(p.adminState), cell(p.peerUptime, 'mono'), numCell(p.msgRcvd), numCell(p.msgSent), numCell(p.outq),
      h('td', { class: 'num c-pfxrcd' }, num(p.pfxRcd), limitBar(p)), numCell(p.pfxAccepted), numCell(p.pfxFiltered), numCell(p.pfxSnt),
      numCell(p.connectionsDropped), lastReset(p),
    ),
  );
  $('nb-table').tBodies[0].replaceChildren(...rows);
  const up = peers.filter(([, p]) => p.state === 'Established').length;
  $('nb-count').textContent = `${up} of ${peers.length} established`;
  const facts = [['router id', s.routerId], ['AS', s.as], ['RIB', `${num(s.ribCount)} prefixes`], ['RIB memory', bytes(s.ribMemory)], ['RSS', bytes(state.rss)]];
  $('global').replaceChildren(...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '')]));
}

// ---- one neighbor -------------------------------------------------------------------------

function select(addr) {
  state.selected = addr;
  $('detail').hidden = false;
  $('dt-title').textContent = addr;
  for (const tr of $('nb-table').tBodies[0].rows) tr.classList.toggle('sel', tr.dataset.peer === addr);
  loadDetail(addr).then(() => $('detail').scrollIntoView({ behavior: 'smooth', block: 'nearest' }));
}

$('dt-close').addEventListener('click', () => {
  state.selected = null;
  $('detail').hidden = true;
  for (const tr of $('nb-table').tBodies[0].rows) tr.classList.remove('sel');
});

async function loadDetail(addr) {
  try {
    const d = await getJSON(`/neighbors/${encodeURIComponent(addr)}`);
    state.details.set(addr, d);
    if (state.selected === addr) renderDetail(d);
  } catch (e) {
    if (state.selected === addr) $('dt-body').replaceChildren(h('p', { class: 'error' }, e.message));
  }
}

const card = (title, ...body) => h('div', { class: 'card' }, h('h3', {}, title), ...body);
const wide = (c) => (c.classList.add('wide'), c);
const facts = (pairs) => h('dl', { class: 'kv' }, pairs.filter(([, v]) => v !== undefined && v !== '').flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
const table = (head, rows) => h('table', { class: 'grid small' }, h('thead', {}, h('tr', {}, head.map((x) => h('th', {}, x)))), h('tbody', {}, rows));

/** When the current session came up: the last transition to Established (ms), else the epoch. */
function sessionUp(d) {
  const t = [...(d.transitions ?? [])].reverse().find((x) => x.to === 'Established');
  return t ? Date.parse(t.at) : d.peerUptimeEstablishedEpoch ? d.peerUptimeEstablishedEpoch * 1000 : null;
}

function renderDetail(d) {
  const gr = d.gracefulRestart;
  const up = sessionUp(d);
  const session = card('Session', facts([
    ['state', stateBadge(d)], ['admin', d.adminState], ['remote AS', d.remoteAs], ['local AS', d.localAs],
    ['description', d.description], ['remote router id', d.remoteRouterId], ['local address', d.localAddress], ['port', d.port],
    ['passive', d.passive ? 'yes' : 'no'], ['families', (d.families ?? []).join(', ')], ['role', d.role],
    ['ADD-PATH', d.addPath ? `receive ${d.addPath.receive.join(', ') || '–'}; send ${d.addPath.send.join(', ') || '–'}` : undefined],
    ['graceful restart', gr ? `restart time ${gr.restartTime} s${gr.restarting ? ', restarting' : ''}, ${gr.families.length} families` : undefined],
    ['up/down', d.peerUptime], ['established / dropped', `${d.connectionsEstablished} / ${d.connectionsDropped}`],
    ['last reset', d.lastResetDueTo ? `${d.lastResetDueTo} (${d.lastResetCode})` : undefined],
  ]));
  const timers = card('Timers', facts([
    ['hold time', d.holdTime !== undefined ? `${d.holdTime} s (configured ${d.configuredHoldTime} s)` : `configured ${d.configuredHoldTime} s`],
    ['keepalive', d.keepalive !== undefined ? `${d.keepalive} s` : undefined], ['out queue', bytes(d.outq)],
  ]));
  const { local = [], remote = [] } = d.capabilities ?? {};
  const caps = [...new Set([...local, ...remote])].sort();
  const mark = (has) => h('td', { class: has ? 'yes' : 'no' }, has ? '✓' : '–');
  const capabilities = card('Capabilities', table(['capability', 'local', 'remote'], caps.map((c) => h('tr', {}, cell(c, 'mono'), mark(local.includes(c)), mark(remote.includes(c))))));
  const fams = [['IPv4 unicast', 'ipv4Unicast'], ['IPv6 unicast', 'ipv6Unicast']];
  const prefixes = wide(card('Prefixes per family', table(['family', 'rcvd', 'accepted', 'filtered', 'sent', 'treat-as-withdraw', 'attrs discarded'],
    fams.map(([name, k]) => { const f = d[k]; const r = d.rfc7606?.[k] ?? {}; return h('tr', {}, cell(name), numCell(f.pfxRcd), numCell(f.pfxAccepted), numCell(f.pfxFiltered), numCell(f.pfxSnt), numCell(r.treatAsWithdraw), numCell(r.attributesDiscarded)); }))));
  const types = Object.keys(d.messages?.received ?? {});
  const messages = card('Messages', table(['type', 'received', 'sent'], types.map((t) => h('tr', {}, cell(t), numCell(d.messages.received[t]), numCell(d.messages.sent[t])))));
  const eor = Object.entries(d.endOfRib ?? {});
  const endOfRib = card('End-of-RIB', eor.length
    ? table(['family', 'received at', 'after session up'], eor.map(([f, at]) => h('tr', {}, cell(f), cell(clock(Date.parse(at)), 'mono'), cell(up ? secs(Date.parse(at) - up) : '', 'num'))))
    : h('p', { class: 'hint' }, 'none received in this session'));
  const trans = [...(d.transitions ?? [])].reverse();
  const transitions = wide(card('Recent FSM transitions', table(['at', 'from', 'to', 'event'], trans.map((t) => h('tr', {}, cell(clock(Date.parse(t.at)), 'mono'), cell(t.from), cell(t.to), cell(t.event))))));
  $('dt-body').replaceChildren(session, timers, capabilities, prefixes, messages, endOfRib, transitions);
}

// ---- route lookup -------------------------------------------------------------------------

$('lk-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const q = new URLSearchParams({ prefix: String(f.get('prefix')).trim(), match: String(f.get('match')) });
  $('lk-status').textContent = 'looking up…';
  try {
    renderLookup(await getJSON(`/rib?${q}`));
  } catch (err) {
    $('lk-table').hidden = true;
    $('lk-status').textContent = err.message;
  }
});

function renderLookup(r) {
  const rows = r.routes.flatMap((route) =>
    route.paths.map((p) => {
      const comms = [...(p.communities ?? []), ...(p.extendedCommunities ?? []), ...(p.largeCommunities ?? [])].join(' ');
      return h(
        'tr', { class: p.best ? 'best' : '' },
        cell(p.prefix, 'mono'), cell(p.best ? '*>' : '*', 'mono'), numCell(p.pathId), cell(`${p.fromPeer} (AS${p.peerAs})`, 'mono'),
        cell(p.nextHop, 'mono'), cell(p.path, 'mono'), cell(p.origin), numCell(p.med), numCell(p.localPref),
        h('td', { class: 'mono comms', title: comms }, comms), cell(p.reason), cell(p.stale ? 'stale' : ''),
      );
    }),
  );
  $('lk-table').tBodies[0].replaceChildren(...rows.slice(0, LOOKUP_ROWS));
  $('lk-table').hidden = rows.length === 0;
  const plural = (n, one, many) => `${num(n)} ${n === 1 ? one : many}`;
  $('lk-status').textContent = rows.length
    ? `${plural(r.routes.length, 'prefix', 'prefixes')}, ${plural(rows.length, 'path', 'paths')}${r.truncated ? ' (the API stopped at 10,000 prefixes)' : ''}${rows.length > LOOKUP_ROWS ? `; the first ${num(LOOKUP_ROWS)} shown` : ''}`
    : `no route for ${r.prefix} (${r.match})`;
}

// ---- live tail ----------------------------------------------------------------------------

const live = { ws: null, filter: {}, paused: false, budget: TAIL_LINES_PER_S, skipped: 0, retry: null, counts: new Map() };
const sparks = {
  ann: chart($('sp-ann-chart'), [{ label: 'announced/s', color: '#4fb477' }], { height: 48, spark: true }),
  wd: chart($('sp-wd-chart'), [{ label: 'withdrawn/s', color: '#e0675a' }], { height: 48, spark: true }),
};

function liveState(text, kind) {
  $('lv-state').textContent = text;
  $('lv-state').className = `badge ${kind}`;
}

function connectStream() {
  clearTimeout(live.retry);
  live.ws?.close();
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/stream`);
  live.ws = ws;
  liveState('connecting', 'warn');
  ws.onopen = () => ws.send(JSON.stringify({ type: 'ris_subscribe', data: live.filter }));
  ws.onmessage = (m) => {
    let msg;
    try { msg = JSON.parse(m.data); } catch { return; }
    if (msg.type === 'ris_subscribe_ok') liveState('subscribed', 'up');
    else if (msg.type === 'ris_error') liveState(`error: ${msg.data?.message ?? 'unknown'}`, 'down');
    else if (msg.type === 'ris_message' && msg.data) onEvent(msg.data);
  };
  ws.onclose = (e) => {
    if (live.ws !== ws) return;
    liveState(`closed${e.reason ? `: ${e.reason}` : ''} (retrying)`, 'idle');
    live.retry = setTimeout(connectStream, 5000);
  };
}

/** Per peer ('' for all), per second: prefixes announced and withdrawn. */
function count(peer, sec, ann, wd) {
  for (const key of ['', peer]) {
    if (!live.counts.has(key)) {
      live.counts.set(key, new Map());
      if (key) $('sp-peer').append(h('option', { value: key }, key));
    }
    const bins = live.counts.get(key);
    const b = bins.get(sec) ?? [0, 0];
    b[0] += ann;
    b[1] += wd;
    bins.set(sec, b);
  }
}

function onEvent(d) {
  const at = d.timestamp ? d.timestamp * 1000 : Date.now();
  if (d.type === 'UPDATE') {
    const ann = (d.announcements ?? []).reduce((n, a) => n + (a.prefixes?.length ?? 0), 0);
    count(d.peer ?? '', Math.floor(Date.now() / 1000), ann, d.withdrawals?.length ?? 0);
  }
  if (live.paused) return;
  if (live.budget <= 0) return void live.skipped++;
  live.budget--;
  const tail = $('lv-tail');
  tail.prepend(h('li', { class: `ev ev-${String(d.type).toLowerCase()}` }, h('time', {}, clock(at)), h('span', { class: 'who' }, `${d.peer ?? ''} AS${d.peer_asn ?? ''}`), h('b', {}, d.type), eventBody(d)));
  while (tail.childElementCount > TAIL_KEEP) tail.lastElementChild.remove();
}

function eventBody(d) {
  switch (d.type) {
    case 'UPDATE': {
      const parts = (d.announcements ?? []).map((a) => h('span', { class: 'ann' }, `+${(a.prefixes ?? []).join(' +')} via ${a.next_hop}`));
      if (d.withdrawals?.length) parts.push(h('span', { class: 'wd' }, `−${d.withdrawals.join(' −')}`));
      const path = (d.path ?? []).map((x) => (Array.isArray(x) ? `{${x.join(',')}}` : x)).join(' ');
      if (path) parts.push(h('span', { class: 'path' }, `path ${path}`));
      return h('span', {}, parts);
    }
    case 'RIS_PEER_STATE': return h('span', {}, d.state);
    case 'NOTIFICATION': return h('span', {}, `${d.direction ?? ''} ${d.notification?.code}/${d.notification?.subcode}`);
    case 'OPEN': return h('span', {}, `${d.direction ?? ''} AS${d.asn ?? ''} hold ${d.hold_time ?? ''} id ${d.router_id ?? ''}`);
    default: return h('span', {});
  }
}

function tickLive() {
  if (live.skipped) $('lv-dropped').textContent = `${num(live.skipped)} events not shown (at most ${TAIL_LINES_PER_S} lines/s)`;
  live.budget = TAIL_LINES_PER_S;
  const now = Math.floor(Date.now() / 1000);
  const bins = live.counts.get($('sp-peer').value) ?? new Map();
  for (const m of live.counts.values()) for (const s of m.keys()) if (s < now - SPARK_SECONDS) m.delete(s);
  const xs = Array.from({ length: SPARK_SECONDS }, (_, i) => now - SPARK_SECONDS + i); // the last full seconds
  const ann = xs.map((s) => bins.get(s)?.[0] ?? 0);
  const wd = xs.map((s) => bins.get(s)?.[1] ?? 0);
  sparks.ann?.setData([xs, ann]);
  sparks.wd?.setData([xs, wd]);
  $('sp-ann').textContent = num(ann.at(-1));
  $('sp-wd').textContent = num(wd.at(-1));
}

$('lv-form').addEventListener('submit', (e) => {
  e.preventDefault();
  live.filter = Object.fromEntries([...new FormData(e.target)].filter(([, v]) => String(v).trim() !== '').map(([k, v]) => [k, String(v).trim()]));
  connectStream();
});
$('lv-pause').addEventListener('click', (e) => {
  live.paused = !live.paused;
  e.target.textContent = live.paused ? 'Resume' : 'Pause';
});
$('lv-clear').addEventListener('click', () => {
  $('lv-tail').replaceChildren();
  live.skipped = 0;
  $('lv-dropped').textContent = '';
});

// ---- convergence --------------------------------------------------------------------------

const history = { t: [], in: [], out: [], rss: [], rib: [] };
const rateChart = chart($('cv-rate-chart'), [{ label: 'in', color: '#5b9bf0', fmt: (v) => rate(v) }, { label: 'out', color: '#e6a23c' }]);
const memChart = chart($('cv-mem-chart'), [{ label: 'RSS', color: '#b78cf2', fmt: bytes }, { label: 'RIB', color: '#4fb477' }]);

/** Prefixes/s in and out per peer and in total, from the change of pfxRcd / pfxSnt since the last poll. */
function rates(s, at) {
  const prev = state.prev;
  state.prev = { at, peers: s.peers };
  const out = new Map();
  let tin = 0;
  let tout = 0;
  for (const [addr, p] of Object.entries(s.peers)) {
    const q = prev?.peers[addr];
    const dt = prev ? (at - prev.at) / 1000 : 0;
    const r = q && dt > 0 ? [(p.pfxRcd - q.pfxRcd) / dt, (p.pfxSnt - q.pfxSnt) / dt] : [NaN, NaN];
    out.set(addr, r);
    if (Number.isFinite(r[0])) (tin += r[0]), (tout += r[1]);
  }
  return { peers: out, in: prev ? tin : NaN, out: prev ? tout : NaN };
}

function renderConvergence(s, r, at) {
  const push = (k, v) => { history[k].push(v); if (history[k].length > HISTORY_POINTS) history[k].shift(); };
  if (Number.isFinite(r.in)) {
    push('t', at / 1000), push('in', r.in), push('out', r.out), push('rss', state.rss), push('rib', s.ribMemory);
    rateChart?.setData([history.t, history.in, history.out]);
    memChart?.setData([history.t, history.rss, history.rib]);
    $('cv-rate-chart').dataset.points = history.t.length;
  }
  $('cv-in').textContent = rate(r.in);
  $('cv-out').textContent = rate(r.out);
  $('cv-rss').textContent = bytes(state.rss);
  $('cv-rib').textContent = bytes(s.ribMemory);
  const rows = Object.entries(s.peers).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([addr, p]) => {
    const d = state.details.get(addr);
    const fresh = d && p.state === 'Established' && d.peerUptimeEstablishedEpoch === p.peerUptimeEstablishedEpoch;
    const up = fresh ? sessionUp(d) : null;
    const eor = fresh ? Object.entries(d.endOfRib ?? {}) : [];
    const last = eor.length ? Math.max(...eor.map(([, at]) => Date.parse(at))) : null;
    const all = fresh && eor.length >= (d.families?.length ?? 1);
    const [rin, rout] = r.peers.get(addr) ?? [];
    return h('tr', { 'data-peer': addr },
      cell(addr, 'mono'), cell(p.state === 'Established' && up ? clock(up) : p.state, 'mono'),
      cell(eor.map(([f, at]) => `${f} ${clock(Date.parse(at))}`).join(', '), 'mono'),
      cell(all && up ? secs(last - up) : fresh ? `waiting (${eor.length}/${d.families?.length ?? '?'})` : '', 'num c-eor'),
      numCell(p.pfxRcd), cell(rate(rin), 'num'), numCell(p.pfxSnt), cell(rate(rout), 'num'));
  });
  $('cv-table').tBodies[0].replaceChildren(...rows);
}

/** Details of established peers whose End-of-RIB times are not all known yet, a few per poll. */
function refreshDetails(s) {
  const want = Object.entries(s.peers).filter(([addr, p]) => {
    if (addr === state.selected || p.state !== 'Established') return false;
    const d = state.details.get(addr);
    return !d || d.peerUptimeEstablishedEpoch !== p.peerUptimeEstablishedEpoch || Object.keys(d.endOfRib ?? {}).length < (d.families?.length ?? 1);
  });
  for (const [addr] of want.slice(0, DETAILS_PER_POLL)) loadDetail(addr);
}

// ---- polling ------------------------------------------------------------------------------

async function poll() {
  try {
    const at = Date.now();
    const [s, m] = await Promise.all([getJSON('/neighbors'), fetch('/metrics').then((r) => r.text()).catch(() => '')]);
    const rss = /^process_resident_memory_bytes (\S+)$/m.exec(m);
    state.rss = rss ? Number(rss[1]) : null;
    state.summary = s;
    renderNeighbors(s);
    if (state.selected) loadDetail(state.selected);
    refreshDetails(s);
    renderConvergence(s, rates(s, at), at);
    $('conn').textContent = 'live';
    $('conn').className = 'badge up';
  } catch (e) {
    $('conn').textContent = `unreachable: ${e.message}`;
    $('conn').className = 'badge down';
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
connectStream();
setInterval(tickLive, 1000);
