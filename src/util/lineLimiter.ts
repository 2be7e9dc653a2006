// Log lines at a bounded rate: at most one per interval, the rest counted into the next line,
// so that a flood (refused connections, malformed UPDATEs) cannot flood the log.

export class LineLimiter {
  private last = -Infinity;
  private held = 0;

  constructor(
    private readonly write: (line: string) => void,
    private readonly intervalMs = 1000,
  ) {}

  /** Writes `text` unless a line went out less than an interval ago; `weight` events held back then. */
  line(text: string, weight = 1, now = Date.now()): void {
    if (now - this.last < this.intervalMs) {
      this.held += weight;
      return;
    }
    const more = this.held ? ` (and ${this.held} more since the last line)` : '';
    this.write(`${text}${more}`);
    this.last = now;
    this.held = 0;
  }
}
