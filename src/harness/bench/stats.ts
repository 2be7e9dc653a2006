// The bench's summary statistics: medians of rounds, percentiles of latencies.

/** The median (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** p50, p99 and the largest of `values` (ms), to 0.01; NaN for none. */
export function percentiles(values: number[]): { p50Ms: number; p99Ms: number; maxMs: number } {
  const s = [...values].sort((a, b) => a - b);
  const q = (f: number) => (s.length ? Math.round(s[Math.min(s.length - 1, Math.floor(f * s.length))] * 100) / 100 : NaN);
  return { p50Ms: q(0.5), p99Ms: q(0.99), maxMs: q(1) };
}
