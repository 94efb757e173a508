/**
 * The bulkhead: per-user and global concurrency caps with bounded queues,
 * overload policies, a queue timeout and an honest Retry-After. The store
 * keeps the accounting; this class turns it into promises, and owns the
 * abort listeners, the one queue-timeout timer and the drain-rate meter.
 */
import { AbortedError, DisposedError, OverloadError, QueueTimeoutError } from "../errors/index.js";
import { resolveBulkheadConfig, type BulkheadConfigInputs, type ResolvedBulkheadConfig } from "./config.js";
import { lazyRedisStore } from "./lazy-store.js";
import { memoryStore } from "./memory-store.js";
import type { BulkheadConfigOptions, BulkheadStoreKind } from "./options.js";
import { DrainRateMeter, RetryAfterAdvisor } from "./retry-after.js";
import type {
  BulkheadRejection,
  BulkheadStore,
  BulkheadStoreFactory,
  BulkheadStoreHealth,
  BulkheadStoreSnapshot,
  BulkheadTicket,
  BulkheadUserSnapshot,
  EnqueueResult,
} from "./store.js";

/** Per-call options of {@link Bulkhead.acquire} and {@link Bulkhead.limit}. */
export interface AcquireOptions {
  /** Aborting it takes a waiting request out of its queue at once (it rejects with `AbortedError`). */
  signal?: AbortSignal;
}

/** A held slot. Release it exactly once when the work is done; further calls do nothing. */
export interface BulkheadPermit {
  /** The user the slot belongs to. */
  readonly userId: string;
  /** True once released. */
  readonly released: boolean;
  /** Gives the slot back; idempotent. */
  release(): void;
  /** `release()`, for `using permit = await bulkhead.acquire(userId)`. */
  [Symbol.dispose](): void;
}

/** Options of {@link createBulkhead}: the settings plus where else to read them and the plumbing. */
export interface BulkheadOptions extends Omit<BulkheadConfigOptions, "store"> {
  /**
   * Environment to read `WARDEN_BULKHEAD_*` from; `false` ignores it.
   * @default process.env
   */
  env?: BulkheadConfigInputs["env"];
  /**
   * Config file whose `bulkhead` section is read: a path, an already read file, or `false`.
   * @default `warden.config.json` in `cwd` when it exists
   */
  configFile?: BulkheadConfigInputs["file"];
  /**
   * Directory for the config file lookup.
   * @default process.cwd()
   */
  cwd?: string;
  /**
   * Where slots and queues are accounted: a store factory (such as
   * `redisBulkheadStore({ url })` from `warden/redis`), or the name of one
   * (`"memory"`, `"redis"`), which is a setting like the others.
   * @default "memory" (this process only)
   */
  store?: BulkheadStoreFactory | BulkheadStoreKind | string;
  /**
   * Where a shared store reports its connection's losses, re-joins and lost
   * leases (a store's own `log` option wins).
   * @default console.warn
   */
  storeLog?: (message: string) => void;
  /**
   * Monotonic clock in milliseconds, for deadlines, the drain rate and idle
   * times (tests and simulations pass a virtual one).
   * @default performance.now
   */
  now?: () => number;
}

/** One user's line in {@link BulkheadStats}. */
export interface BulkheadUserStats extends BulkheadUserSnapshot {
  /** Last request start, end or arrival: epoch milliseconds with the default clock, else the clock's reading. */
  readonly lastActivity: number;
}

/** What {@link Bulkhead.stats} reports. */
export interface BulkheadStats {
  /** Requests running, all users. */
  readonly globalConcurrent: number;
  /** Requests waiting within the queue caps, all users. */
  readonly globalQueued: number;
  /** Requests waiting over the queue caps (`block` policy only). */
  readonly globalBlocked: number;
  /** Users with state (active, or idle for less than `idleUserTtlMs`). */
  readonly totalUsers: number;
  /** Running plus waiting requests. */
  readonly activeRequests: number;
  /** Measured drain rate in completions per second, smoothed; `undefined` before the first measurement. */
  readonly drainRatePerSecond: number | undefined;
  /** Per-user state. */
  readonly users: readonly BulkheadUserStats[];
  /** The effective settings. */
  readonly config: ResolvedBulkheadConfig;
  /** A shared store's connection state and failure counters; absent for the in-memory store. */
  readonly store?: BulkheadStoreHealth;
}

const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** Life of a waiter. */
const State = {
  /** `enqueue` has not answered yet (shared stores). */
  Pending: 0,
  /** In a queue: abort listener attached, counted in `waiting`. */
  Waiting: 1,
  /** Holds a slot. */
  Granted: 2,
  /** Rejected; owes nothing. */
  Done: 3,
} as const;
type State = (typeof State)[keyof typeof State];

/** How often the coarse clock is refreshed (and idle users looked for), at most. */
const TICK_MS = 1000;

/** setTimeout's longest delay; longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A request waiting for a slot. Its own abort listener (`handleEvent`), so no closure per waiter. */
class Waiter {
  state: State = State.Pending;
  ticket: BulkheadTicket<Waiter> | undefined = undefined;
  constructor(
    readonly owner: Bulkhead,
    readonly userId: string,
    readonly signal: AbortSignal,
    readonly enqueuedAt: number,
    /** For `limit`: the work to run once granted (no permit object needed); else a permit is handed out. */
    readonly task: ((signal: AbortSignal) => unknown) | undefined,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
  ) {}

  handleEvent(): void {
    // Friend access: the bulkhead's private methods are not part of its public surface.
    this.owner["abortWaiter"](this);
  }
}

class Permit implements BulkheadPermit {
  private done = false;
  constructor(
    private readonly owner: Bulkhead,
    readonly userId: string,
  ) {}

  get released(): boolean {
    return this.done;
  }

  release(): void {
    if (this.done) return;
    this.done = true;
    this.owner["releaseSlot"](this.userId);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

function aborted(signal: AbortSignal): AbortedError {
  return new AbortedError("bulkhead wait aborted", { cause: signal.reason });
}

function badUserId(userId: unknown): TypeError {
  const shown = typeof userId === "symbol" ? userId.toString() : JSON.stringify(userId);
  return new TypeError(`userId must be a string, got ${typeof userId} ${shown}`);
}

/**
 * Per-user and global concurrency caps with bounded queues. A request runs
 * when its user and the global pool both have a free slot; otherwise it waits
 * in its user's queue (first in, first out), and freed slots go round robin
 * across users. Create one with {@link createBulkhead}.
 */
export class Bulkhead {
  /** The effective settings. */
  readonly config: ResolvedBulkheadConfig;
  private readonly store: BulkheadStore<Waiter>;
  private readonly now: () => number;
  private readonly epochOffset: number;
  private readonly meter: DrainRateMeter;
  private readonly globalAdvisor: RetryAfterAdvisor;
  private readonly userAdvisors = new Map<string, RetryAfterAdvisor>();
  private readonly timeoutMs: number;
  private readonly ticker: NodeJS.Timeout;
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | undefined = undefined;
  /** The last clock reading, at most a tick old: the uncontended path never reads the clock. */
  private clock: number;
  private lastSweep: number;
  private waiting = 0;
  private isClosed = false;

  /** Use {@link createBulkhead}; this takes already resolved settings. */
  constructor(
    config: ResolvedBulkheadConfig,
    store?: BulkheadStoreFactory,
    now?: () => number,
    storeLog?: (message: string) => void,
  ) {
    this.config = config;
    this.now = now ?? (() => performance.now());
    this.epochOffset = now === undefined ? performance.timeOrigin : 0;
    this.timeoutMs = config.queueTimeoutMs > 0 ? config.queueTimeoutMs : 0;
    this.clock = this.now();
    this.lastSweep = this.clock;
    this.meter = new DrainRateMeter();
    this.globalAdvisor = new RetryAfterAdvisor(config.retryAfterSeconds, config.maxRetryAfterSeconds);
    const factory = store ?? (config.store === "redis" ? lazyRedisStore : memoryStore);
    this.store = factory<Waiter>({
      config,
      now: this.now,
      ...(storeLog !== undefined ? { log: storeLog } : {}),
      events: {
        granted: (ticket) => this.onGranted(ticket.payload),
        evicted: (ticket, rejection) => this.onEvicted(ticket.payload, rejection),
        failed: (ticket, error) => this.onFailed(ticket.payload, error),
      },
    });
    // Refreshes the coarse clock and sweeps idle users; must never keep the process alive.
    this.tickMs = Math.min(config.idleUserTtlMs, TICK_MS);
    this.ticker = setInterval(() => this.tick(), this.tickMs).unref();
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Runs `fn` in a slot of `userId`, waiting for one if needed; the slot is
   * released when `fn` settles, whatever the outcome. Rejects with
   * `OverloadError` (429) when the queue is full, `QueueTimeoutError` (408)
   * after `queueTimeoutMs` of waiting, `AbortedError` when `signal` aborts
   * the wait, `DisposedError` after {@link close}; otherwise settles as `fn` does.
   */
  limit<T>(
    userId: string,
    fn: (signal: AbortSignal) => T | PromiseLike<T>,
    options?: AcquireOptions,
  ): Promise<Awaited<T>> {
    const signal = options?.signal ?? NEVER_ABORTED;
    if (this.isClosed) return Promise.reject(new DisposedError("bulkhead"));
    if (typeof userId !== "string") return Promise.reject(badUserId(userId));
    if (signal.aborted) return Promise.reject(aborted(signal));
    const taken = this.store.tryAcquire(userId);
    if (taken === true) return this.run(userId, fn, signal);
    if (taken === false) return this.wait<Awaited<T>>(userId, signal, fn);
    return Promise.resolve(taken).then((ok) => {
      if (!ok) return this.wait<Awaited<T>>(userId, signal, fn);
      if (this.isClosed) throw new DisposedError("bulkhead"); // the closed store holds no slots
      return this.run(userId, fn, signal);
    });
  }

  /**
   * Takes a slot of `userId`, waiting for one if needed. Call `release()` on
   * the permit when done (in a `finally`). Rejects as {@link limit} does.
   */
  acquire(userId: string, options?: AcquireOptions): Promise<BulkheadPermit> {
    const signal = options?.signal ?? NEVER_ABORTED;
    if (this.isClosed) return Promise.reject(new DisposedError("bulkhead"));
    if (typeof userId !== "string") return Promise.reject(badUserId(userId));
    if (signal.aborted) return Promise.reject(aborted(signal));
    const taken = this.store.tryAcquire(userId);
    if (taken === true) return Promise.resolve(new Permit(this, userId));
    if (taken === false) return this.wait<BulkheadPermit>(userId, signal, undefined);
    return Promise.resolve(taken).then((ok) => {
      if (!ok) return this.wait<BulkheadPermit>(userId, signal, undefined);
      if (this.isClosed) throw new DisposedError("bulkhead"); // the closed store holds no slots
      return new Permit(this, userId);
    });
  }

  /**
   * Current counters, per-user state and settings. With a shared store the
   * counters are the whole cluster's as of the store's last reading (at most
   * about a second old); {@link fetchStats} reads them afresh.
   */
  stats(): BulkheadStats {
    if (this.isClosed) throw new DisposedError("bulkhead");
    return this.toStats(this.store.snapshot());
  }

  /** {@link stats}, read afresh from a shared store (the same as `stats()` for the in-memory store). */
  async fetchStats(): Promise<BulkheadStats> {
    if (this.isClosed) throw new DisposedError("bulkhead");
    const snapshot = this.store.fetchSnapshot === undefined ? this.store.snapshot() : await this.store.fetchSnapshot();
    return this.toStats(snapshot);
  }

  /**
   * Resolves once the store is ready: at once for the in-memory store; for a
   * shared store, when it is connected. Rejects with `StoreUnavailableError`
   * (naming the store and the cause) when Redis cannot be reached at start.
   */
  async ready(): Promise<void> {
    if (this.isClosed) throw new DisposedError("bulkhead");
    await this.store.whenReady?.();
  }

  /**
   * Rejects every waiting request with `DisposedError`, stops the timers and
   * closes the store. Running requests finish undisturbed; their releases
   * become no-ops. Later calls reject with `DisposedError`. Idempotent.
   */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.ticker);
    this.clearTimer();
    for (let ticket = this.store.oldest(); ticket !== undefined; ticket = this.store.oldest()) {
      const waiter = ticket.payload;
      if (waiter.state !== State.Waiting) break; // a store that broke the `remove` contract; do not spin
      this.settle(waiter);
      waiter.state = State.Done;
      waiter.reject(new DisposedError("bulkhead"));
      this.removeTicket(ticket);
    }
    await this.store.close();
  }

  /** `close()`, for `await using bulkhead = createBulkhead()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async run<T>(
    userId: string,
    fn: (signal: AbortSignal) => T | PromiseLike<T>,
    signal: AbortSignal,
  ): Promise<Awaited<T>> {
    try {
      return await fn(signal);
    } finally {
      this.releaseSlot(userId);
    }
  }

  /** Queues a request; resolves with a permit, or with the task's outcome when `task` is given. */
  private wait<R>(
    userId: string,
    signal: AbortSignal,
    task: ((signal: AbortSignal) => unknown) | undefined,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const now = this.readClock();
      const waiter = new Waiter(this, userId, signal, now, task, resolve as (value: unknown) => void, reject);
      const result = this.store.enqueue(userId, waiter, now);
      if (isPromiseLike(result)) {
        result.then(
          (answer) => this.onEnqueued(waiter, answer),
          (error: unknown) => {
            if (waiter.state === State.Pending) {
              waiter.state = State.Done;
              reject(error);
            }
          },
        );
      } else {
        this.onEnqueued(waiter, result);
      }
    });
  }

  private onEnqueued(waiter: Waiter, result: EnqueueResult<Waiter>): void {
    switch (result.status) {
      case "granted":
        this.onGranted(waiter);
        return;
      case "rejected":
        if (waiter.state !== State.Pending) return;
        waiter.state = State.Done;
        waiter.reject(this.overload(result.rejection));
        return;
      default:
        waiter.ticket = result.ticket;
        // A shared store may have granted or evicted it before answering; or we closed meanwhile.
        if (waiter.state !== State.Pending) return;
        if (this.isClosed) {
          waiter.state = State.Done;
          waiter.reject(new DisposedError("bulkhead"));
          this.removeTicket(result.ticket);
          return;
        }
        waiter.state = State.Waiting;
        this.waiting++;
        if (result.status === "queued") {
          this.globalAdvisor.admitted(waiter.enqueuedAt);
          this.userAdvisors.get(waiter.userId)?.admitted(waiter.enqueuedAt);
        }
        if (waiter.signal !== NEVER_ABORTED) {
          waiter.signal.addEventListener("abort", waiter);
          if (waiter.signal.aborted) this.abortWaiter(waiter);
        }
        if (this.timer === undefined && this.timeoutMs > 0) this.armTimer();
    }
  }

  private onGranted(waiter: Waiter): void {
    if (waiter.state === State.Done || waiter.state === State.Granted) {
      // Rejected locally while the store was granting (shared stores only): give the slot back.
      this.releaseSlot(waiter.userId);
      return;
    }
    this.settle(waiter);
    if (this.isClosed) {
      // A shared store's late grant after close: the closed store holds no slots.
      waiter.state = State.Done;
      waiter.reject(new DisposedError("bulkhead"));
      return;
    }
    waiter.state = State.Granted;
    const task = waiter.task;
    if (task === undefined) {
      waiter.resolve(new Permit(this, waiter.userId));
    } else {
      // Not synchronously: we are inside the store's hand-out loop (and maybe
      // inside another task's release), where a task that throws at once
      // would release and grant again, recursing once per waiter.
      queueMicrotask(() => waiter.resolve(this.run(waiter.userId, task, waiter.signal)));
    }
  }

  private onEvicted(waiter: Waiter, rejection: BulkheadRejection): void {
    if (waiter.state !== State.Waiting && waiter.state !== State.Pending) return;
    this.settle(waiter);
    waiter.state = State.Done;
    waiter.reject(this.overload(rejection));
  }

  private onFailed(waiter: Waiter, error: unknown): void {
    if (waiter.state !== State.Waiting && waiter.state !== State.Pending) return;
    this.settle(waiter);
    waiter.state = State.Done;
    waiter.reject(error);
  }

  private abortWaiter(waiter: Waiter): void {
    if (waiter.state !== State.Waiting) return;
    this.settle(waiter);
    waiter.state = State.Done;
    waiter.reject(aborted(waiter.signal));
    this.removeTicket(waiter.ticket!);
  }

  /** Leaves the Waiting state's bookkeeping: listener, count, timer. */
  private settle(waiter: Waiter): void {
    if (waiter.state !== State.Waiting) return;
    if (waiter.signal !== NEVER_ABORTED) waiter.signal.removeEventListener("abort", waiter);
    if (--this.waiting === 0) {
      this.clearTimer();
      this.meter.interrupt();
    }
  }

  private removeTicket(ticket: BulkheadTicket<Waiter>): void {
    const removed = this.store.remove(ticket);
    // A shared store that lost the race to a grant sends the grant; onGranted gives that slot back.
    if (isPromiseLike(removed)) removed.then(undefined, () => undefined);
  }

  private releaseSlot(userId: string): void {
    if (this.isClosed) return;
    // Only completions while requests wait measure how fast a queue drains;
    // the uncontended path skips the clock (it costs as much as the rest).
    let now = this.clock;
    if (this.waiting > 0) {
      now = this.readClock();
      this.meter.record(now);
    }
    const done = this.store.release(userId, now);
    // A shared store that fails here recovers the slot when its lease expires.
    if (done !== undefined && isPromiseLike(done)) done.then(undefined, () => undefined);
  }

  private toStats(snapshot: BulkheadStoreSnapshot): BulkheadStats {
    return {
      globalConcurrent: snapshot.globalConcurrent,
      globalQueued: snapshot.globalQueued,
      globalBlocked: snapshot.globalBlocked,
      totalUsers: snapshot.users.length,
      activeRequests: snapshot.globalConcurrent + snapshot.globalQueued + snapshot.globalBlocked,
      drainRatePerSecond: this.drainRate(this.readClock()),
      users: snapshot.users.map((user) => ({ ...user, lastActivity: user.lastActivity + this.epochOffset })),
      config: this.config,
      ...(snapshot.store === undefined ? {} : { store: snapshot.store }),
    };
  }

  /** The cluster's drain rate when a shared store measures one, else this process's. */
  private drainRate(now: number): number | undefined {
    return this.store.drainRate?.() ?? this.meter.perSecond(now);
  }

  /** The 429 for a full queue, with a Retry-After from the measured drain rate. */
  private overload(rejection: BulkheadRejection): OverloadError {
    const now = this.readClock();
    const rate = this.drainRate(now);
    let retryAfter: number;
    if (rejection.scope === "global") {
      retryAfter = this.globalAdvisor.advise(now, rejection.queued, rate);
    } else {
      // A user's queue drains at the user's share of the global rate: its running requests over all running.
      const share = Math.min(1, Math.max(rejection.running, 1) / Math.max(rejection.globalRunning, 1));
      let advisor = this.userAdvisors.get(rejection.userId);
      if (advisor === undefined) {
        advisor = new RetryAfterAdvisor(this.config.retryAfterSeconds, this.config.maxRetryAfterSeconds);
        this.userAdvisors.set(rejection.userId, advisor);
      }
      retryAfter = advisor.advise(now, rejection.queued, rate === undefined ? undefined : rate * share);
    }
    return new OverloadError({
      scope: rejection.scope,
      retryAfter,
      queued: rejection.queued,
      capacity: rejection.capacity,
    });
  }

  /** One timer for all queue timeouts, armed for the oldest waiter's deadline (FIFO: the earliest). */
  private armTimer(): void {
    const oldest = this.store.oldest();
    if (oldest === undefined) return;
    const delay = Math.max(0, oldest.payload.enqueuedAt + this.timeoutMs - this.now());
    // A deadline beyond setTimeout's range fires early and simply re-arms.
    this.timer = setTimeout(() => this.expire(), Math.min(Math.ceil(delay), MAX_TIMER_MS));
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private expire(): void {
    this.timer = undefined;
    const now = this.readClock();
    for (let ticket = this.store.oldest(); ticket !== undefined; ticket = this.store.oldest()) {
      const waiter = ticket.payload;
      const waited = now - waiter.enqueuedAt;
      if (waited < this.timeoutMs || waiter.state !== State.Waiting) break;
      this.settle(waiter);
      waiter.state = State.Done;
      waiter.reject(new QueueTimeoutError(this.timeoutMs, waited));
      this.removeTicket(ticket);
    }
    if (this.waiting > 0 && this.timer === undefined) this.armTimer();
  }

  private readClock(): number {
    return (this.clock = this.now());
  }

  private tick(): void {
    const now = this.readClock();
    // With a short TTL every tick sweeps (no jitter can skip one); else once per TTL.
    if (this.tickMs < this.config.idleUserTtlMs && now - this.lastSweep < this.config.idleUserTtlMs) return;
    this.lastSweep = now;
    this.store.sweepIdle(now - this.config.idleUserTtlMs);
    for (const [userId, advisor] of this.userAdvisors) if (advisor.isSpent(now)) this.userAdvisors.delete(userId);
  }
}

/** Everything {@link createBulkhead} takes except the settings themselves. */
const PLUMBING = ["env", "configFile", "cwd", "store", "now", "storeLog"] as const;

/**
 * Creates a bulkhead. Settings come from, lowest precedence first: defaults,
 * the config file's `bulkhead` section, `WARDEN_BULKHEAD_*` variables, and
 * `options`; every value is validated (`ConfigError` names the bad one).
 *
 * ```ts
 * const bulkhead = createBulkhead({ maxConcurrentPerUser: 3, queueTimeoutMs: "30s" });
 * const result = await bulkhead.limit(userId, (signal) => work(signal), { signal });
 * ```
 */
export function createBulkhead(options: BulkheadOptions = {}): Bulkhead {
  const settings: Record<string, unknown> = { ...options };
  for (const key of PLUMBING) delete settings[key];
  // A store given by name is a setting; a factory is plumbing.
  const factory = typeof options.store === "function" ? options.store : undefined;
  if (factory === undefined && options.store !== undefined) settings["store"] = options.store;
  const config = resolveBulkheadConfig({
    options: settings as BulkheadConfigOptions,
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.configFile !== undefined ? { file: options.configFile } : {}),
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  });
  return new Bulkhead(config, factory, options.now, options.storeLog);
}
