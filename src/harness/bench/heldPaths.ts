// What a target that advertises nothing (ribstorm in collector mode) holds, seen from outside:
// its management API's GET /neighbors asked in a loop, the senders' Adj-RIB-In sizes (`pfxRcd`)
// summed. It stands where the receiving peers stand in a convergence run (convergence.ts):
// `size` is what is held, `lastUpdateAt` when that last changed, as seen by the answer that
// showed it (so a little after the RIB held it: at most one round trip late).

export class HeldPaths {
  size = 0;
  /** performance.now() of the answer that first showed the current size. */
  lastUpdateAt = 0;
  /** Answers that showed a new size. */
  updates = 0;
  /** The last failure to ask, if the API stopped answering. */
  error = '';
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    /** "ADDR:PORT" of the API. */
    private readonly api: string,
    /** The sending peers' addresses: their paths are counted. */
    private readonly peers: readonly string[],
    /** Pause between two questions, ms. */
    private readonly everyMs = 10,
  ) {}

  start(): void {
    this.lastUpdateAt = performance.now();
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const r = (await (await fetch(`http://${this.api}/neighbors`)).json()) as { peers: Record<string, { pfxRcd?: number }> };
        const n = this.peers.reduce((sum, p) => sum + (r.peers[p]?.pfxRcd ?? 0), 0);
        if (n !== this.size) {
          this.size = n;
          this.lastUpdateAt = performance.now();
          this.updates++;
        }
      } catch (e) {
        this.error = String((e as Error)?.message ?? e);
      }
      await new Promise((r) => setTimeout(r, this.everyMs));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}
