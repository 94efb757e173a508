/**
 * The store holds the bulkhead's accounting: slots in use per user and in
 * total, who waits in which queue, and who runs next. The bulkhead around it
 * owns everything local to one process: promises, abort signals, the queue
 * timeout timer and the Retry-After estimate.
 *
 * The in-memory store answers synchronously. A shared store (Redis, for many
 * `warden serve` instances) implements the same interface with atomic scripts
 * and answers with promises; the shape is chosen for it:
 *
 * - `tryAcquire` and `enqueue` are each one atomic step (one Lua script),
 *   re-checking the caps, so two instances can never both take the last slot.
 * - Grants arrive as events, not return values, because the slot freed by a
 *   release on instance B may go to a request waiting on instance A (pub/sub
 *   to the ticket's owner).
 * - Slots are released by user id; a shared store keeps them as leases
 *   renewed by the holding instance, so slots of a dead instance come back.
 * - `oldest` and `snapshot` read the local view and never block; a shared
 *   store's snapshot is its last reading of the shared state, and
 *   `fetchSnapshot` reads it afresh.
 */
import type { OverloadScope } from "../errors/index.js";
import type { BulkheadConfig } from "./options.js";

/** A value or a promise of it: the in-memory store answers directly, a shared store asynchronously. */
export type Awaitable<T> = T | PromiseLike<T>;

/** A request waiting in a store's queue. */
export interface BulkheadTicket<P> {
  /** The user whose queue holds it. */
  readonly userId: string;
  /** The bulkhead's own data for this request, handed back in events. */
  readonly payload: P;
}

/** Why a request could not be queued (or was pushed out of a queue): which queue was full, and its state then. */
export interface BulkheadRejection {
  /** The full queue: the user's own or the global one. */
  readonly scope: OverloadScope;
  /** The user whose request is rejected. */
  readonly userId: string;
  /** Requests waiting in the full queue. */
  readonly queued: number;
  /** Capacity of the full queue. */
  readonly capacity: number;
  /** Requests running in the scope: the user's for `user`, all for `global`. */
  readonly running: number;
  /** Requests running over all users. */
  readonly globalRunning: number;
}

/** Outcome of {@link BulkheadStore.enqueue}. */
export type EnqueueResult<P> =
  /** A slot was free after all: the caller holds it now. */
  | { readonly status: "granted" }
  /** Waiting in its user's queue; `blocked` when over the queue caps under the `block` policy. */
  | { readonly status: "queued" | "blocked"; readonly ticket: BulkheadTicket<P> }
  /** Not queued: the queue was full. */
  | { readonly status: "rejected"; readonly rejection: BulkheadRejection };

/** What a store tells its bulkhead, possibly at any time for a shared store. */
export interface BulkheadStoreEvents<P> {
  /**
   * The ticket left its queue holding a slot (per-user and global). Called
   * once per ticket; the bulkhead then owes one `release(ticket.userId)`. The
   * store may call it before `enqueue`'s answer arrives.
   */
  granted(ticket: BulkheadTicket<P>): void;
  /** The ticket was pushed out of a full queue (`drop_oldest`). No release is owed. */
  evicted(ticket: BulkheadTicket<P>, rejection: BulkheadRejection): void;
  /**
   * The store can no longer serve the ticket (a shared store lost its
   * connection and fails closed); the request rejects with `error`. No
   * release is owed. The in-memory store never calls it.
   */
  failed(ticket: BulkheadTicket<P>, error: unknown): void;
}

/** What a store factory is given. */
export interface BulkheadStoreContext<P> {
  /** Caps and policy; the store enforces them. */
  readonly config: BulkheadConfig;
  /** Where grants and evictions go. */
  readonly events: BulkheadStoreEvents<P>;
  /** The bulkhead's clock, in milliseconds. */
  readonly now: () => number;
  /** Where a shared store reports connection losses and re-joins, when the bulkhead's owner says. */
  readonly log?: (message: string) => void;
}

/** One user's state in a {@link BulkheadStoreSnapshot}. */
export interface BulkheadUserSnapshot {
  /** The user. */
  readonly userId: string;
  /** Requests running. */
  readonly concurrent: number;
  /** Requests waiting within the user's queue cap. */
  readonly queued: number;
  /** Requests waiting over the queue caps (`block` policy only). */
  readonly blocked: number;
  /** Last request start, end or arrival, on the store's clock. */
  readonly lastActivity: number;
}

/** A store's state, as far as it knows it without blocking. */
export interface BulkheadStoreSnapshot {
  /** Requests running, all users. */
  readonly globalConcurrent: number;
  /** Requests waiting within the queue caps, all users. */
  readonly globalQueued: number;
  /** Requests waiting over the queue caps (`block` policy only). */
  readonly globalBlocked: number;
  /** Every user the store holds state for. */
  readonly users: readonly BulkheadUserSnapshot[];
  /** A shared store's connection state and failure counters; absent for the in-memory store. */
  readonly store?: BulkheadStoreHealth;
}

/** How a shared store is doing, reported in `stats().store`. */
export interface BulkheadStoreHealth {
  /** Which store: `redis`. */
  readonly kind: string;
  /**
   * `connecting` before the first connection, `connected`, `unavailable`
   * (failing closed) or `fallback` (failing open: this instance's own caps).
   */
  readonly state: "connecting" | "connected" | "unavailable" | "fallback";
  /** This instance's id in the shared store. */
  readonly instanceId: string;
  /** Times the connection was lost while serving. */
  readonly outages: number;
  /** Requests rejected with `StoreUnavailableError` because the store was unreachable. */
  readonly rejectedUnavailable: number;
  /** Requests admitted by this instance's own caps while the store was unreachable. */
  readonly admittedOnFallback: number;
}

/**
 * Slot and queue accounting for a bulkhead. Every method may answer with a
 * promise, except `oldest`, `sweepIdle` and `snapshot`, which read local state.
 */
export interface BulkheadStore<P> {
  /**
   * Takes a slot for `userId` if the user and the global pool both have one
   * free and none of the user's requests is waiting (first in, first out
   * within a user). True when taken.
   */
  tryAcquire(userId: string): Awaitable<boolean>;
  /**
   * Queues a request that `tryAcquire` could not serve, applying the
   * overload policy when a queue is full; may grant at once when a slot has
   * freed since. `now` is its arrival time.
   */
  enqueue(userId: string, payload: P, now: number): Awaitable<EnqueueResult<P>>;
  /** Gives back one slot of `userId`; the next waiter, chosen fairly across users, is granted it. */
  release(userId: string, now: number): Awaitable<void>;
  /**
   * Takes a waiting ticket out of its queue (abort, queue timeout, close).
   * False when it was no longer waiting. Must drop the ticket from `oldest`
   * before returning, even when the shared accounting is updated later.
   */
  remove(ticket: BulkheadTicket<P>): Awaitable<boolean>;
  /** The longest-waiting ticket of this process (its deadline is the earliest), or undefined. */
  oldest(): BulkheadTicket<P> | undefined;
  /** Forgets users with nothing running or waiting whose last activity is before `before`. */
  sweepIdle(before: number): void;
  /** Counters and per-user state. */
  snapshot(): BulkheadStoreSnapshot;
  /** Frees the store's resources; the bulkhead has already taken every ticket out. */
  close(): Awaitable<void>;
  /**
   * Resolves once a shared store is connected; rejects with
   * `StoreUnavailableError` when it cannot be reached at start. Optional.
   */
  whenReady?(): Promise<void>;
  /** A fresh snapshot from the shared state (`snapshot` may be up to a second old). Optional. */
  fetchSnapshot?(): Promise<BulkheadStoreSnapshot>;
  /**
   * Completions per second while requests waited, measured over every
   * instance sharing the store; `undefined` before a measurement. When a
   * store has it, Retry-After uses it instead of this process's own meter.
   */
  drainRate?(): number | undefined;
}

/** Makes a store for a bulkhead; `createBulkhead({ store })` takes one. */
export type BulkheadStoreFactory = <P>(context: BulkheadStoreContext<P>) => BulkheadStore<P>;
