/**
 * The in-memory store: one process's slot and queue accounting, every
 * operation O(1).
 *
 * Three linked queues do the work: each user's FIFO queue, one arrival-order
 * queue of all waiters (the oldest has the earliest deadline; `drop_oldest`
 * evicts it when the global queue is full), and a round-robin ring of
 * "ready" users, those with a waiter and a free per-user slot, which lack
 * only a global slot. Invariant after every operation: if the ring is not
 * empty, every global slot is taken.
 */
import { LinkedList, ListNode } from "./queue.js";
import type { OverloadPolicy } from "./options.js";
import type {
  BulkheadRejection,
  BulkheadStore,
  BulkheadStoreContext,
  BulkheadStoreEvents,
  BulkheadStoreSnapshot,
  BulkheadTicket,
  BulkheadUserSnapshot,
  EnqueueResult,
} from "./store.js";

// The lists are intrusive (a user is its own node in the ready ring, an entry
// its own node in its user's queue), so waiting allocates little.

/** A user; as a node, its place in the ready ring. */
class UserState<P> extends ListNode {
  running = 0;
  readonly queue = new LinkedList<Entry<P>>();
  constructor(
    readonly id: string,
    public lastActivity: number,
  ) {
    super();
  }
}

/** A waiter; as a node, its place in its user's queue. */
class Entry<P> extends ListNode implements BulkheadTicket<P> {
  readonly userId: string;
  /** Its place in the arrival-order queue of all waiters. */
  readonly arrival: Arrival<P>;
  constructor(
    readonly user: UserState<P>,
    readonly payload: P,
  ) {
    super();
    this.userId = user.id;
    this.arrival = new Arrival(this);
  }
}

class Arrival<P> extends ListNode {
  constructor(readonly entry: Entry<P>) {
    super();
  }
}

const GRANTED = Object.freeze({ status: "granted" as const });

// A cap of 0 or -1 means none; a queue cap of -1 means unbounded (0 is "no queue").
const slotCap = (value: number): number => (value > 0 ? value : Number.POSITIVE_INFINITY);
const queueCap = (value: number): number => (value >= 0 ? value : Number.POSITIVE_INFINITY);

/** Slot and queue accounting in this process's memory. */
export class MemoryBulkheadStore<P> implements BulkheadStore<P> {
  private readonly users = new Map<string, UserState<P>>();
  private readonly arrivals = new LinkedList<Arrival<P>>();
  private readonly ready = new LinkedList<UserState<P>>();
  private readonly events: BulkheadStoreEvents<P>;
  private readonly now: () => number;
  private readonly userSlots: number;
  private readonly globalSlots: number;
  private readonly userQueue: number;
  private readonly globalQueue: number;
  private readonly policy: OverloadPolicy;
  private globalRunning = 0;

  constructor(context: BulkheadStoreContext<P>) {
    const { config } = context;
    this.events = context.events;
    this.now = context.now;
    this.userSlots = slotCap(config.maxConcurrentPerUser);
    this.globalSlots = slotCap(config.maxConcurrentGlobal);
    this.userQueue = queueCap(config.maxQueuePerUser);
    this.globalQueue = queueCap(config.maxQueueGlobal);
    this.policy = config.overloadPolicy;
  }

  tryAcquire(userId: string): boolean {
    let user = this.users.get(userId);
    if (user === undefined) {
      user = new UserState<P>(userId, this.now());
      this.users.set(userId, user);
    }
    if (user.queue.size === 0 && user.running < this.userSlots && this.globalRunning < this.globalSlots) {
      user.running++;
      this.globalRunning++;
      return true;
    }
    return false;
  }

  enqueue(userId: string, payload: P, now: number): EnqueueResult<P> {
    let user = this.users.get(userId);
    if (user === undefined) {
      user = new UserState<P>(userId, now);
      this.users.set(userId, user);
    }
    user.lastActivity = now;
    if (user.queue.size === 0 && user.running < this.userSlots && this.globalRunning < this.globalSlots) {
      user.running++;
      this.globalRunning++;
      return GRANTED;
    }

    const userFull = user.queue.size >= this.userQueue;
    const globalFull = !userFull && this.arrivals.size >= this.globalQueue;
    let status: "queued" | "blocked" = "queued";
    if (userFull || globalFull) {
      const scope = userFull ? "user" : "global";
      if (this.policy === "block") {
        status = "blocked";
      } else {
        const victim =
          this.policy === "drop_oldest" ? (userFull ? user.queue.peek() : this.arrivals.peek()?.entry) : undefined;
        // drop_newest, or drop_oldest with a zero-sized queue: the newcomer goes.
        if (victim === undefined) return { status: "rejected", rejection: this.rejection(scope, user) };
        const rejection = this.rejection(scope, victim.user);
        this.unqueue(victim);
        this.events.evicted(victim, rejection);
      }
    }

    const entry = new Entry(user, payload);
    user.queue.push(entry);
    this.arrivals.push(entry.arrival);
    if (!user.linked && user.running < this.userSlots) this.ready.push(user);
    // No drain here: a slot free for this user would have been granted above,
    // and by the invariant a free global slot means no other user is ready.
    return { status, ticket: entry };
  }

  release(userId: string, now: number): void {
    const user = this.users.get(userId);
    // Unknown or idle user: a release without a slot (already closed, or a bug upstream); nothing to give back.
    if (user === undefined || user.running === 0) return;
    user.running--;
    this.globalRunning--;
    user.lastActivity = now;
    if (user.queue.size > 0 && !user.linked) this.ready.push(user);
    if (this.ready.size > 0) this.drain();
  }

  remove(ticket: BulkheadTicket<P>): boolean {
    const entry = ticket as Entry<P>;
    if (!entry.linked) return false;
    this.unqueue(entry);
    return true;
  }

  oldest(): BulkheadTicket<P> | undefined {
    return this.arrivals.peek()?.entry;
  }

  sweepIdle(before: number): void {
    for (const [id, user] of this.users) {
      if (user.running === 0 && user.queue.size === 0 && user.lastActivity < before) this.users.delete(id);
    }
  }

  snapshot(): BulkheadStoreSnapshot {
    const users: BulkheadUserSnapshot[] = [];
    let queuedWithinUserCaps = 0;
    for (const user of this.users.values()) {
      const queued = Math.min(user.queue.size, this.userQueue);
      queuedWithinUserCaps += queued;
      users.push({
        userId: user.id,
        concurrent: user.running,
        queued,
        blocked: user.queue.size - queued,
        lastActivity: user.lastActivity,
      });
    }
    const globalQueued = Math.min(queuedWithinUserCaps, this.globalQueue);
    return {
      globalConcurrent: this.globalRunning,
      globalQueued,
      globalBlocked: this.arrivals.size - globalQueued,
      users,
    };
  }

  close(): void {
    // The bulkhead has taken every ticket out already; running slots are forgotten.
    this.users.clear();
    this.globalRunning = 0;
  }

  /** Hands free global slots to ready users, one each in turn (round robin). */
  private drain(): void {
    while (this.globalRunning < this.globalSlots) {
      const user = this.ready.shift();
      if (user === undefined) return;
      const entry = user.queue.shift()!;
      this.arrivals.remove(entry.arrival);
      user.running++;
      this.globalRunning++;
      // Back of the ring: every other ready user gets a slot before this one gets another.
      if (user.queue.size > 0 && user.running < this.userSlots) this.ready.push(user);
      this.events.granted(entry);
    }
  }

  private unqueue(entry: Entry<P>): void {
    const user = entry.user;
    user.queue.remove(entry);
    this.arrivals.remove(entry.arrival);
    if (user.queue.size === 0) this.ready.remove(user);
  }

  private rejection(scope: "user" | "global", user: UserState<P>): BulkheadRejection {
    return scope === "user"
      ? {
          scope,
          userId: user.id,
          queued: user.queue.size,
          capacity: this.userQueue,
          running: user.running,
          globalRunning: this.globalRunning,
        }
      : {
          scope,
          userId: user.id,
          queued: this.arrivals.size,
          capacity: this.globalQueue,
          running: this.globalRunning,
          globalRunning: this.globalRunning,
        };
  }
}

/** The default store factory: accounting in this process's memory. */
export const memoryStore = <P>(context: BulkheadStoreContext<P>): BulkheadStore<P> =>
  new MemoryBulkheadStore<P>(context);
