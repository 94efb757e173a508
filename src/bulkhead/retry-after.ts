/**
 * Retry-After from evidence: a meter of how fast requests really complete
 * (an exponentially weighted moving average of completions per second) and
 * an advisor that turns "requests ahead of you" into whole seconds.
 */

/** Tuning of a {@link DrainRateMeter}. */
export interface DrainRateOptions {
  /**
   * A rate sample spans at least this long (from one completion to a later
   * one); shorter spans are noise.
   * @default 100
   */
  windowMs?: number;
  /**
   * Time constant of the moving average: a sample spanning `windowMs` weighs
   * `1 - exp(-windowMs / smoothingMs)`; older samples fade exponentially.
   * @default 1000
   */
  smoothingMs?: number;
}

/**
 * Completions per second while requests wait, smoothed: how fast a queue
 * really drains. Only completions under contention are fed in (without
 * contention the completion rate is the arrival rate, not the capacity), and
 * {@link interrupt} marks the end of contention so the quiet time after it
 * never reads as slow draining. Times are milliseconds on a monotonic clock.
 */
export class DrainRateMeter {
  private readonly windowMs: number;
  private readonly smoothingMs: number;
  private ratePerMs: number | undefined = undefined;
  /** Time of the completion that opened the current sample, if one is open. */
  private windowStart: number | undefined = undefined;
  /** Completions since `windowStart`. */
  private count = 0;

  constructor(options: DrainRateOptions = {}) {
    this.windowMs = options.windowMs ?? 100;
    this.smoothingMs = options.smoothingMs ?? 1000;
  }

  /** Counts one completion at `now`. O(1), no allocation. */
  record(now: number): void {
    if (this.windowStart === undefined) {
      this.windowStart = now;
      this.count = 0;
      return;
    }
    this.count++;
    const span = now - this.windowStart;
    if (span < this.windowMs) return;
    const sample = this.count / span;
    if (this.ratePerMs === undefined) this.ratePerMs = sample;
    else this.ratePerMs += (1 - Math.exp(-span / this.smoothingMs)) * (sample - this.ratePerMs);
    this.windowStart = now;
    this.count = 0;
  }

  /** Contention ended: the next completion opens a fresh sample, so idle time is not counted. */
  interrupt(): void {
    this.windowStart = undefined;
    this.count = 0;
  }

  /** The smoothed rate in completions per second, or `undefined` before the first sample. */
  perSecond(now: number): number | undefined {
    if (this.ratePerMs === undefined) return undefined;
    let rate = this.ratePerMs;
    if (this.windowStart !== undefined) {
      // A stall shows before the next completion: once several completions
      // were due, the open sample bounds the rate (counting the next as imminent).
      const open = now - this.windowStart;
      if (open > this.windowMs && open * rate >= 3) rate = Math.min(rate, (this.count + 1) / open);
    }
    return rate * 1000;
  }
}

/**
 * Advises a Retry-After for one queue, as a virtual line of clients told to
 * come back: the queue seen now drains first, then every client advised
 * before, each one drain interval after the previous (the "horizon"). A
 * request that takes a queue place while the line is not yet served pushes
 * the line back one interval too, because it takes a place an advised client
 * was counting on. So a burst of rejections is spread over the time it takes
 * to serve it, and under steady overload the advice grows with the demand
 * rather than inviting everyone back into a full queue.
 */
export class RetryAfterAdvisor {
  private horizon = Number.NEGATIVE_INFINITY;
  private intervalMs = 0;

  /**
   * @param baseSeconds advice when no drain rate has been measured yet
   * @param maxSeconds upper bound of any advice
   */
  constructor(
    private readonly baseSeconds: number,
    private readonly maxSeconds: number,
  ) {}

  /**
   * Whole seconds, at least 1 and at most `maxSeconds`, until a client
   * rejected at `now` with `ahead` requests queued before it is likely to
   * find a place, given the queue's drain rate in requests per second.
   */
  advise(now: number, ahead: number, ratePerSecond: number | undefined): number {
    if (ratePerSecond === undefined || Number.isNaN(ratePerSecond)) return this.baseSeconds;
    if (ratePerSecond <= 0) return this.maxSeconds;
    this.intervalMs = 1000 / ratePerSecond;
    const drained = now + ahead * this.intervalMs;
    this.horizon = this.bound(Math.max(this.horizon, drained) + this.intervalMs, now);
    return Math.min(this.maxSeconds, Math.max(1, Math.ceil((this.horizon - now) / 1000)));
  }

  /** A request took a queue place at `now`: clients still to come back are one place further back. */
  admitted(now: number): void {
    if (this.horizon > now) this.horizon = this.bound(this.horizon + this.intervalMs, now);
  }

  /** True when every client advised so far was due in the past (the advisor can be dropped). */
  isSpent(now: number): boolean {
    return this.horizon <= now;
  }

  // Bounded, so a long overload cannot push the line out without end.
  private bound(horizon: number, now: number): number {
    return Math.min(horizon, now + this.maxSeconds * 1000);
  }
}
