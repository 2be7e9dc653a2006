// The status page's helpers: elements built from text only (h), number and time formats, JSON
// from the API, state badges, and uPlot line charts.

export const $ = (id) => document.getElementById(id);

/** An element; strings among the children become text nodes. */
export function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of kids.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  return e;
}

export const num = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '');
export const cell = (v, cls) => h('td', { class: cls }, v ?? '');
export const numCell = (n) => cell(num(n), 'num');
export const clock = (ms) => new Date(ms).toLocaleTimeString('en-GB', { hour12: false }) + '.' + String(Math.floor(ms % 1000)).padStart(3, '0');
export const secs = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);
export const rate = (r) => (Number.isFinite(r) ? r.toLocaleString('en-US', { maximumFractionDigits: 0 }) : '');

export function bytes(n) {
  if (typeof n !== 'number') return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export async function getJSON(path) {
  const r = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error ?? `${r.status} ${r.statusText}`);
  return body;
}

export function badge(text, kind) {
  return h('span', { class: `badge ${kind}` }, text);
}

export function stateBadge(p) {
  if (p.adminState === 'down') return badge(`${p.state} (Admin)`, 'down');
  return badge(p.state, p.state === 'Established' ? 'up' : p.state === 'Idle' ? 'idle' : 'warn');
}

/** A line chart (uPlot, served from /ui/uplot.min.js); null when uPlot did not load. */
export function chart(el, series, { height = 90, spark = false } = {}) {
  if (!window.uPlot) return null;
  const axis = { stroke: '#8a94a6', grid: { stroke: '#2a3140', width: 1 }, ticks: { show: false }, font: '11px system-ui', size: 44 };
  const u = new window.uPlot(
    {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: false },
      cursor: { show: !spark, points: { show: false } },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max)] } },
      axes: spark ? [{ show: false }, { show: false }] : [{ ...axis, size: 22, space: 70, values: (_u, v) => v.map((t) => clock(t * 1000).slice(0, 8)) }, { ...axis, size: 64, values: (_u, v) => v.map(series[0].fmt ?? num) }],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, fill: spark ? s.color + '33' : undefined, points: { show: false } }))],
    },
    [[], ...series.map(() => [])],
    el,
  );
  new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height })).observe(el);
  return u;
}
