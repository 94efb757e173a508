/**
 * The store behind `store: "redis"` in the config file or the environment:
 * it loads the `warden/redis` module on first use, so `import "warden"`
 * never loads a Redis client, and forwards every call once it is loaded.
 */
import type {
  Awaitable,
  BulkheadStore,
  BulkheadStoreContext,
  BulkheadStoreSnapshot,
  BulkheadTicket,
  EnqueueResult,
} from "./store.js";

const EMPTY: BulkheadStoreSnapshot = Object.freeze({
  globalConcurrent: 0,
  globalQueued: 0,
  globalBlocked: 0,
  users: [],
});

/** Forwards to a store that is still being loaded. */
class LazyStore<P> implements BulkheadStore<P> {
  private inner: BulkheadStore<P> | undefined = undefined;
  private readonly loading: Promise<BulkheadStore<P>>;

  constructor(context: BulkheadStoreContext<P>) {
    this.loading = import("./redis/index.js").then(({ redisBulkheadStore }) => {
      this.inner = redisBulkheadStore()(context);
      return this.inner;
    });
    // Failures surface through the calls; never as an unhandled rejection.
    this.loading.catch(() => undefined);
  }

  tryAcquire(userId: string): Awaitable<boolean> {
    return this.inner?.tryAcquire(userId) ?? this.loading.then((store) => store.tryAcquire(userId));
  }

  enqueue(userId: string, payload: P, now: number): Awaitable<EnqueueResult<P>> {
    return (
      this.inner?.enqueue(userId, payload, now) ?? this.loading.then((store) => store.enqueue(userId, payload, now))
    );
  }

  release(userId: string, now: number): Awaitable<void> {
    if (this.inner !== undefined) return this.inner.release(userId, now);
    return this.loading.then((store) => store.release(userId, now));
  }

  remove(ticket: BulkheadTicket<P>): Awaitable<boolean> {
    // Tickets come from `enqueue`, which answers only once the store is loaded.
    return this.inner?.remove(ticket) ?? false;
  }

  oldest(): BulkheadTicket<P> | undefined {
    return this.inner?.oldest();
  }

  sweepIdle(before: number): void {
    this.inner?.sweepIdle(before);
  }

  snapshot(): BulkheadStoreSnapshot {
    return this.inner?.snapshot() ?? EMPTY;
  }

  async close(): Promise<void> {
    const store = await this.loading.catch(() => undefined);
    await store?.close();
  }

  async whenReady(): Promise<void> {
    const store = await this.loading;
    await store.whenReady?.();
  }

  async fetchSnapshot(): Promise<BulkheadStoreSnapshot> {
    const store = await this.loading;
    return store.fetchSnapshot?.() ?? store.snapshot();
  }

  drainRate(): number | undefined {
    return this.inner?.drainRate?.();
  }
}

/** The store factory for `store: "redis"` given as a setting; Redis options come from the settings. */
export const lazyRedisStore = <P>(context: BulkheadStoreContext<P>): BulkheadStore<P> => new LazyStore<P>(context);
