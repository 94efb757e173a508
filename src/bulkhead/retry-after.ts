/**
 * Retry-After from evidence: a meter of how fast requests really complete
 * (an exponentially weighted moving average of completions per second) and
 * an advisor that turns "requests ahead of you" into whole seconds.
 */

/** Tuning of a {@link DrainRateMeter}. */
export interface DrainRateOptions {
  /**
   * Completions are counted over windows at least this long before they
   * become a rate sample; shorter windows are noise.
   * @default 100
   */
  windowMs?: number;
  /**
   * Time constant of the moving average: a sample `windowMs` long weighs
   * `1 - exp(-windowMs / smoothingMs)`; older samples fade exponentially.
   * @default 1000
   */
  smoothingMs?: number;
  /**
   * A stretch this long without any completion is taken as idleness and not
   * folded in, so a quiet minute does not read as a drain rate of zero.
   * @default 5000
   */
  idleResetMs?: number;
}

/** Completions per second, smoothed. Times are milliseconds on any monotonic clock. */
export class DrainRateMeter {
  private readonly windowMs: number;
  private readonly smoothingMs: number;
  private readonly idleResetMs: number;
  private ratePerMs: number | undefined = undefined;
  private count = 0;
  private windowStart: number;
  private last: number;

  constructor(now: number, options: DrainRateOptions = {}) {
    this.windowMs = options.windowMs ?? 100;
    this.smoothingMs = options.smoothingMs ?? 1000;
    this.idleResetMs = options.idleResetMs ?? 5000;
    this.windowStart = now;
    this.last = now;
  }

  /** Counts one completion at `now`. O(1), no allocation. */
  record(now: number): void {
    if (now - this.windowStart >= this.windowMs) this.fold(now);
    this.count++;
    this.last = now;
  }

  /** The smoothed rate in completions per second, or `undefined` before the first full window. */
  perSecond(now: number): number | undefined {
    if (now - this.windowStart >= this.windowMs) this.fold(now);
    return this.ratePerMs === undefined ? undefined : this.ratePerMs * 1000;
  }

  private fold(now: number): void {
    let end = now;
    if (now - this.last > this.idleResetMs) {
      // Idle since the last completion: the window ends there, the gap is dropped.
      if (this.count === 0) {
        this.windowStart = now;
        return;
      }
      end = Math.max(this.last, this.windowStart + this.windowMs);
    }
    const span = end - this.windowStart;
    const sample = this.count / span;
    if (this.ratePerMs === undefined) {
      this.ratePerMs = sample;
    } else {
      const weight = 1 - Math.exp(-span / this.smoothingMs);
      this.ratePerMs += weight * (sample - this.ratePerMs);
    }
    this.count = 0;
    this.windowStart = now;
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
