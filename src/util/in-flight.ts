/**
 * Counts work in progress, so a close can wait until it is done without keeping every piece of work's
 * promise in a set (a set's add and delete per request, and the promises it retains).
 */
export class InFlight {
  private count = 0;
  private readonly waiters: Array<() => void> = [];

  get size(): number {
    return this.count;
  }

  start(): void {
    this.count++;
  }

  end(): void {
    if (--this.count > 0) return;
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once nothing is in progress. */
  async idle(): Promise<void> {
    while (this.count > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}
