// The convergence curve as an SVG chart: prefixes at the sink over time, one line per target.

export interface Series {
  name: string;
  /** [ms since the first UPDATE byte, prefixes at the sink]. */
  points: Array<[number, number]>;
}

const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export function convergenceSvg(series: Series[], title: string): string {
  const W = 720;
  const H = 400;
  const L = 70;
  const B = 40;
  const maxX = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[0])));
  const maxY = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[1])));
  const x = (ms: number) => L + (ms / maxX) * (W - L - 20);
  const y = (n: number) => H - B - (n / maxY) * (H - B - 30);
  const esc = (t: string) => t.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const ticks = (n: number, max: number) => Array.from({ length: n + 1 }, (_, i) => (max * i) / n);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - 20}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${H - B}" x2="${L}" y2="30" stroke="black"/>`,
    ...ticks(5, maxX).map((t) => `<text x="${x(t)}" y="${H - B + 16}" text-anchor="middle">${(t / 1000).toFixed(1)} s</text>`),
    ...ticks(4, maxY).map((t) => `<text x="${L - 6}" y="${y(t) + 4}" text-anchor="end">${Math.round(t).toLocaleString('en-US')}</text>`),
    `<text x="${W / 2}" y="${H - 6}" text-anchor="middle">time since the first UPDATE byte</text>`,
  ];
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.map(([t, n]) => `${x(t).toFixed(1)},${y(n).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`);
    out.push(`<text x="${L + 10}" y="${44 + i * 16}" fill="${color}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
