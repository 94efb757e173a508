import type { LimitKind } from "../errors/index.js";
import type { LimitValues } from "../limits/index.js";
import type { WarningBudget } from "./contract.js";

/** A hard limit the watchdog enforced. */
export interface WatchdogTrip {
  kind: Extract<LimitKind, "timeout" | "cpu">;
  limit: number;
  observed: number;
}

/** What the watchdog needs from an engine. */
export interface WatchdogTarget {
  /** CPU milliseconds the guest has used so far in this run. */
  cpuMs(): number;
  /** Stops the guest at once (dispose the isolate, terminate the worker...). */
  kill(trip: WatchdogTrip): void;
  /** A time or CPU budget crossed its warning threshold. */
  warn(budget: WarningBudget, fraction: number): void;
}

/**
 * Enforces the wall-clock and CPU budgets of one run from the host, over the
 * whole async life of the run, with one timer at a time. CPU time cannot grow
 * faster than wall time on one thread, so the next check is scheduled when the
 * earliest budget could first be reached; nothing polls in between.
 */
export class Watchdog {
  private readonly started = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private warnedTime = false;
  private warnedCpu = false;
  /** Set once the watchdog killed the run. */
  tripped: WatchdogTrip | undefined;

  constructor(
    private readonly limits: LimitValues,
    private readonly target: WatchdogTarget,
  ) {
    this.schedule();
  }

  /** Milliseconds since the run started. */
  elapsedMs(): number {
    return performance.now() - this.started;
  }

  private enabled(value: number): boolean {
    return value > 0;
  }

  private schedule(): void {
    if (this.stopped) return;
    const { timeoutMs, cpuTimeMs, warnAt } = this.limits;
    const wall = this.elapsedMs();
    const cpu = this.target.cpuMs();
    const waits: number[] = [];
    if (this.enabled(timeoutMs)) waits.push(timeoutMs - wall);
    if (this.enabled(cpuTimeMs)) waits.push(cpuTimeMs - cpu);
    if (this.enabled(warnAt)) {
      if (this.enabled(timeoutMs) && !this.warnedTime) waits.push(timeoutMs * warnAt - wall);
      if (this.enabled(cpuTimeMs) && !this.warnedCpu) waits.push(cpuTimeMs * warnAt - cpu);
    }
    if (waits.length === 0) return;
    const delay = Math.max(0, Math.min(...waits));
    this.timer = setTimeout(() => this.check(), Math.ceil(delay));
  }

  /**
   * Checks the budgets now instead of at the next timer: after the thread was blocked in a
   * synchronous call, during which no timer could fire (its warnings are due, or a trip).
   */
  poll(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.check();
  }

  private check(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const { timeoutMs, cpuTimeMs, warnAt } = this.limits;
    const wall = this.elapsedMs();
    const cpu = this.target.cpuMs();
    if (this.enabled(timeoutMs) && wall >= timeoutMs)
      return this.trip({ kind: "timeout", limit: timeoutMs, observed: Math.round(wall) });
    if (this.enabled(cpuTimeMs) && cpu >= cpuTimeMs)
      return this.trip({ kind: "cpu", limit: cpuTimeMs, observed: Math.round(cpu) });
    if (this.enabled(warnAt)) {
      if (this.enabled(timeoutMs) && !this.warnedTime && wall >= timeoutMs * warnAt) {
        this.warnedTime = true;
        this.target.warn("timeout", wall / timeoutMs);
      }
      if (this.enabled(cpuTimeMs) && !this.warnedCpu && cpu >= cpuTimeMs * warnAt) {
        this.warnedCpu = true;
        this.target.warn("cpu", cpu / cpuTimeMs);
      }
    }
    this.schedule();
  }

  private trip(trip: WatchdogTrip): void {
    this.tripped = trip;
    this.stop();
    this.target.kill(trip);
  }

  /** Stops watching; clears the timer. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
