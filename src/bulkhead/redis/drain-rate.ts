/**
 * The cluster's drain rate, from readings of a shared counter: Redis counts
 * every completion that happens while requests wait (on any instance), and
 * each instance reads the counter with Redis's clock about once a second.
 */

/** Smoothed completions per second while requests waited, over every instance. */
export class ClusterDrainRate {
  private last: { at: number; count: number; waiting: number } | undefined = undefined;
  private ratePerMs: number | undefined = undefined;

  /**
   * @param smoothingMs time constant of the exponentially weighted moving
   *   average (as for the in-process meter)
   */
  constructor(private readonly smoothingMs = 1000) {}

  /**
   * Feeds one reading: Redis's time `at` (ms), the counter `count`, and
   * how many requests wait now. Quiet spans (nobody waited at either end and
   * nothing drained) are skipped, so idle time never reads as slow draining.
   */
  update(at: number, count: number, waiting: number): void {
    const last = this.last;
    this.last = { at, count, waiting };
    if (last === undefined || at <= last.at || count < last.count) return;
    const drained = count - last.count;
    if (drained === 0 && (last.waiting === 0 || waiting === 0)) return;
    const span = at - last.at;
    const sample = drained / span;
    if (this.ratePerMs === undefined) this.ratePerMs = sample;
    else this.ratePerMs += (1 - Math.exp(-span / this.smoothingMs)) * (sample - this.ratePerMs);
  }

  /** Completions per second, or `undefined` before the first measurement. */
  perSecond(): number | undefined {
    return this.ratePerMs === undefined ? undefined : this.ratePerMs * 1000;
  }
}
