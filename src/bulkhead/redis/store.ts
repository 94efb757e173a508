/**
 * The Redis store: the bulkhead's slots and queues shared by every instance
 * that uses the same Redis and key prefix.
 *
 * - Every change is one atomic Lua script that re-checks the caps (see
 *   `scripts.ts`); an uncontended acquire and its release are one round trip each.
 * - Slots and queue places are held under this instance's lease, on Redis's
 *   own clock, renewed by a heartbeat; a dead instance's are given back when
 *   its lease expires, by whichever script runs next.
 * - Grants and evictions for this instance's waiters go to its inbox in
 *   Redis, and a pub/sub message wakes it: nobody polls.
 * - This instance keeps a ledger of the slots it really holds. Whenever the
 *   connection comes back (or the lease was lost) it re-joins with the
 *   ledger, so the shared state converges on the truth and nothing leaks.
 * - While Redis cannot be reached it fails closed (`StoreUnavailableError`)
 *   or open (an in-memory store with this instance's own caps).
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { StoreUnavailableError } from "../../errors/index.js";
import { MemoryBulkheadStore } from "../memory-store.js";
import type { StoreFailureMode } from "../options.js";
import { LinkedList, ListNode } from "../queue.js";
import type {
  BulkheadRejection,
  BulkheadStore,
  BulkheadStoreContext,
  BulkheadStoreHealth,
  BulkheadStoreSnapshot,
  BulkheadTicket,
  BulkheadUserSnapshot,
  EnqueueResult,
} from "../store.js";
import { isNoLease, isReply, isTransientReply, redact, SCRIPTS, type Script } from "./calls.js";
import { ClusterDrainRate } from "./drain-rate.js";
import { checkOptions, type RedisBulkheadStoreOptions } from "./options.js";

type Where = "pending" | "redis" | "removing" | "local" | "done";

/** A waiter of this instance; as a node, its place in the local arrival order. */
class RedisTicket<P> extends ListNode implements BulkheadTicket<P> {
  where: Where = "pending";
  /** Its entry in the fallback store, while failing open. */
  local: BulkheadTicket<RedisTicket<P>> | undefined = undefined;
  constructor(
    readonly id: string,
    readonly userId: string,
    readonly payload: P,
    readonly arrivedAt: number,
  ) {
    super();
  }
}

type State = "connecting" | "syncing" | "connected" | "unavailable" | "fallback";

const GRANTED = Object.freeze({ status: "granted" as const });
const EMPTY_USERS: readonly BulkheadUserSnapshot[] = Object.freeze([]);

/** Slot and queue accounting in Redis, shared by every instance with the same Redis and key prefix. */
export class RedisBulkheadStore<P> implements BulkheadStore<P> {
  /** This instance's id in Redis. */
  readonly instanceId: string;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly context: BulkheadStoreContext<P>;
  private readonly prefix: string;
  private readonly common: readonly string[];
  private readonly where: string;
  private readonly failure: StoreFailureMode;
  private readonly log: (message: string) => void;
  private readonly heartbeat: NodeJS.Timeout;
  /** Slots this instance really holds, per user: the truth it re-joins with. */
  private readonly held = new Map<string, number>();
  /** Waiters by ticket id, until granted, evicted or removed. */
  private readonly tickets = new Map<string, RedisTicket<P>>();
  /** Waiters of this instance in arrival order (the oldest has the earliest deadline). */
  private readonly arrivals = new LinkedList<RedisTicket<P>>();
  private readonly rate = new ClusterDrainRate();
  private state: State = "connecting";
  /** Resolves when `connecting` or `syncing` ends. */
  private gate: Promise<void>;
  private openGate: () => void = () => undefined;
  private readyPromise: Promise<void>;
  private startError: StoreUnavailableError | undefined = undefined;
  private epoch = "";
  private syncSent = false;
  private fallback: MemoryBulkheadStore<RedisTicket<P>> | undefined = undefined;
  private seq = 0;
  private pulling = false;
  private pullAgain = false;
  private beating = false;
  private syncs = 0;
  private closed = false;
  private cluster: BulkheadStoreSnapshot = {
    globalConcurrent: 0,
    globalQueued: 0,
    globalBlocked: 0,
    users: EMPTY_USERS,
  };
  private outages = 0;
  private rejectedUnavailable = 0;
  private admittedOnFallback = 0;

  constructor(context: BulkheadStoreContext<P>, given: RedisBulkheadStoreOptions = {}) {
    const options = checkOptions(given);
    const { config } = context;
    this.context = context;
    const url = options.url ?? config.redisUrl;
    this.where = `Redis at ${redact(url)}`;
    this.failure = options.onFailure ?? config.redisOnFailure;
    const log = options.log ?? context.log ?? ((message: string) => console.warn(`warden bulkhead: ${message}`));
    this.log = log === false ? () => undefined : log;
    this.instanceId = options.instanceId ?? randomBytes(8).toString("hex");
    // A hash tag keeps every key in one slot, should the Redis be a cluster node.
    this.prefix = `{${options.keyPrefix ?? config.redisKeyPrefix}}:`;
    const ttl = options.leaseTtlMs ?? config.redisLeaseTtlMs;
    // Renewed every `every` ms, a lease is set to expire `ttl - every` ahead: a dead instance's
    // lease expires within that, and the next heartbeat of any other instance (within `every`)
    // gives its slots back, so within the lease ttl in all. A live instance has ttl / 2 to spare.
    const every = Math.max(10, Math.min(options.statsIntervalMs ?? 1000, ttl / 4));
    this.common = [
      this.instanceId,
      String(config.maxConcurrentPerUser > 0 ? config.maxConcurrentPerUser : 0),
      String(config.maxConcurrentGlobal > 0 ? config.maxConcurrentGlobal : 0),
      String(config.maxQueuePerUser >= 0 ? config.maxQueuePerUser : -1),
      String(config.maxQueueGlobal >= 0 ? config.maxQueueGlobal : -1),
      config.overloadPolicy,
      String(Math.round(ttl - every)),
    ];
    this.redis = new Redis(url, {
      ...options.redisOptions,
      lazyConnect: true,
      // A command while disconnected fails at once (fail closed or open), and a
      // command in flight when the connection drops is never sent twice: the
      // re-join after reconnecting settles what it did.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 5000,
      // Commands issued in one tick leave in one write: under load that is most of the cost.
      enableAutoPipelining: true,
      retryStrategy: (times) => Math.min(50 * times, 1000),
    });
    // Pub/sub needs a connection of its own; it only ever wakes this instance up.
    this.sub = new Redis(url, { ...options.redisOptions, retryStrategy: (times) => Math.min(50 * times, 1000) });
    this.redis.on("error", () => undefined); // reported through the state changes below
    this.sub.on("error", () => undefined);
    this.redis.on("ready", () => this.onReady());
    this.redis.on("close", () => this.onConnectionLost());
    this.sub.on("message", () => this.pullInbox());
    this.sub.on("ready", () => this.pullInbox()); // a wake-up may have been missed meanwhile
    this.gate = new Promise((resolve) => (this.openGate = resolve));
    this.readyPromise = this.redis.connect().then(
      () => this.gate,
      (error: unknown) => {
        this.startError = new StoreUnavailableError({
          store: this.where,
          retryAfter: config.retryAfterSeconds,
          message: `cannot reach ${this.where} at start: ${(error as Error).message}`,
          cause: error,
        });
        if (!this.closed) this.log(this.startError.message);
        if (this.state === "connecting") this.enter("unavailable");
        throw this.startError;
      },
    );
    this.readyPromise.catch(() => undefined);
    void this.sub.subscribe(`${this.prefix}wake:${this.instanceId}`).catch(() => undefined);
    this.heartbeat = setInterval(() => this.beat(), every).unref();
  }

  tryAcquire(userId: string): boolean | Promise<boolean> {
    switch (this.state) {
      case "connected":
        return this.call(SCRIPTS.acquire, [userId]).then(
          (taken) => {
            if (taken !== 1) return false;
            this.hold(userId);
            return true;
          },
          (error: unknown) => this.recover(error).then(() => this.tryAcquire(userId)),
        );
      case "fallback":
        if (!this.fallback!.tryAcquire(userId)) return false;
        this.admittedOnFallback++;
        this.hold(userId);
        return true;
      case "unavailable":
        return Promise.reject(this.unavailable());
      default:
        return this.gate.then(() => this.tryAcquire(userId));
    }
  }

  enqueue(userId: string, payload: P, now: number): EnqueueResult<P> | Promise<EnqueueResult<P>> {
    return this.place(new RedisTicket(`${this.instanceId}:${++this.seq}:${userId}`, userId, payload, now));
  }

  release(userId: string): void {
    const count = this.held.get(userId) ?? 0;
    // A release without a slot: closed, or given back by a re-join already.
    if (count === 0) return;
    if (count === 1) this.held.delete(userId);
    else this.held.set(userId, count - 1);
    this.sendRelease(userId);
  }

  remove(ticket: BulkheadTicket<P>): boolean | Promise<boolean> {
    const entry = ticket as RedisTicket<P>;
    switch (entry.where) {
      case "redis":
        this.arrivals.remove(entry);
        entry.where = "removing";
        if (this.state !== "connected") return false;
        return this.call(SCRIPTS.remove, [entry.id]).then(
          (removed) => {
            // Not removed: a grant or an eviction is on its way, and settles the ticket.
            if (removed !== 1) return false;
            this.forget(entry);
            return true;
          },
          () => false,
        );
      case "local":
        this.forget(entry);
        return entry.local !== undefined && this.fallback !== undefined ? this.fallback.remove(entry.local) : false;
      case "pending":
        // `enqueue` has not answered; its answer finds the ticket done and the bulkhead gives any slot back.
        entry.where = "removing";
        return false;
      default:
        return false;
    }
  }

  oldest(): BulkheadTicket<P> | undefined {
    return this.arrivals.peek();
  }

  sweepIdle(before: number): void {
    // Redis forgets idle users in the heartbeat; the fallback store here.
    this.fallback?.sweepIdle(before);
  }

  snapshot(): BulkheadStoreSnapshot {
    const base = this.state === "fallback" ? this.fallback!.snapshot() : this.cluster;
    return { ...base, store: this.health() };
  }

  async fetchSnapshot(): Promise<BulkheadStoreSnapshot> {
    if (this.state === "connected") {
      try {
        await this.readCluster();
      } catch (error) {
        await this.recover(error).catch(() => undefined);
      }
    }
    return this.snapshot();
  }

  drainRate(): number | undefined {
    return this.rate.perSecond();
  }

  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.held.clear();
    for (const ticket of this.tickets.values()) ticket.where = "done";
    this.tickets.clear();
    // Give back everything this instance holds at once, rather than when its lease expires.
    if (this.state === "connected") await this.call(SCRIPTS.leave, []).catch(() => undefined);
    this.state = "unavailable";
    this.openGate();
    this.sub.disconnect();
    this.redis.disconnect();
  }

  // ---- placing a waiter ----------------------------------------------------------------------

  private place(ticket: RedisTicket<P>): EnqueueResult<P> | Promise<EnqueueResult<P>> {
    switch (this.state) {
      case "connected":
        ticket.where = "pending";
        this.tickets.set(ticket.id, ticket);
        return this.call(SCRIPTS.enqueue, [ticket.userId, ticket.id]).then(
          (answer) => this.placed(ticket, answer as [string, ...(string | number)[]]),
          (error: unknown) => {
            this.tickets.delete(ticket.id);
            if (ticket.where === "removing") ticket.where = "done";
            return this.recover(error).then(() => this.place(ticket));
          },
        );
      case "fallback":
        return this.placeLocally(ticket);
      case "unavailable":
        return Promise.reject(this.unavailable());
      default:
        return this.gate.then(() => this.place(ticket));
    }
  }

  private placed(ticket: RedisTicket<P>, answer: [string, ...(string | number)[]]): EnqueueResult<P> {
    const [status] = answer;
    if (status === "granted") {
      this.tickets.delete(ticket.id);
      ticket.where = "done";
      this.hold(ticket.userId);
      return GRANTED;
    }
    if (status === "rejected") {
      this.tickets.delete(ticket.id);
      ticket.where = "done";
      const [, scope, queued, capacity, running, globalRunning] = answer;
      return {
        status: "rejected",
        rejection: {
          scope: scope === "user" ? "user" : "global",
          userId: ticket.userId,
          queued: Number(queued),
          capacity: Number(capacity) < 0 ? Number.POSITIVE_INFINITY : Number(capacity),
          running: Number(running),
          globalRunning: Number(globalRunning),
        },
      };
    }
    if (ticket.where === "pending") {
      ticket.where = "redis";
      this.arrivals.push(ticket);
    } else if (ticket.where === "removing") {
      // Removed before the answer came: take it out of Redis too (or a grant gives the slot back).
      ticket.where = "redis";
      void this.remove(ticket);
    }
    return { status: status === "blocked" ? "blocked" : "queued", ticket };
  }

  private placeLocally(ticket: RedisTicket<P>): EnqueueResult<P> {
    const result = this.fallback!.enqueue(ticket.userId, ticket, ticket.arrivedAt);
    switch (result.status) {
      case "granted":
        ticket.where = "done";
        this.admittedOnFallback++;
        this.hold(ticket.userId);
        return GRANTED;
      case "rejected":
        ticket.where = "done";
        return result;
      default:
        ticket.where = "local";
        ticket.local = result.ticket;
        this.tickets.set(ticket.id, ticket);
        this.arrivals.push(ticket);
        return { status: result.status, ticket };
    }
  }

  // ---- grants and evictions ------------------------------------------------------------------

  /** Takes this instance's inbox; runs again if woken meanwhile. */
  private pullInbox(): void {
    if (this.state !== "connected") return;
    if (this.pulling) {
      this.pullAgain = true;
      return;
    }
    this.pulling = true;
    this.call(SCRIPTS.inbox, [])
      .then((messages) => {
        for (const message of messages as string[]) this.deliver(message);
      })
      .catch((error: unknown) => this.recover(error).catch(() => undefined))
      .finally(() => {
        this.pulling = false;
        if (this.pullAgain) {
          this.pullAgain = false;
          this.pullInbox();
        }
      });
  }

  private deliver(message: string): void {
    if (message.startsWith("g")) {
      const id = message.slice(1);
      const ticket = this.tickets.get(id);
      if (ticket === undefined) {
        // A slot for a waiter this instance no longer knows: give it straight back.
        const user = /^[^:]*:[^:]*:(.*)$/s.exec(id)?.[1];
        if (user !== undefined) {
          this.hold(user);
          this.release(user);
        }
        return;
      }
      this.grant(ticket);
      return;
    }
    // e|scope|queued|capacity|running|globalRunning|ticket (the ticket id may hold "|")
    const parts = message.split("|");
    const id = parts.slice(6).join("|");
    const ticket = this.tickets.get(id);
    if (ticket === undefined) return;
    this.forget(ticket);
    const capacity = Number(parts[3]);
    this.context.events.evicted(ticket, {
      scope: parts[1] === "user" ? "user" : "global",
      userId: ticket.userId,
      queued: Number(parts[2]),
      capacity: capacity < 0 ? Number.POSITIVE_INFINITY : capacity,
      running: Number(parts[4]),
      globalRunning: Number(parts[5]),
    });
  }

  private grant(ticket: RedisTicket<P>): void {
    this.forget(ticket);
    this.hold(ticket.userId);
    // A ticket removed meanwhile is still granted: the bulkhead gives the slot back.
    this.context.events.granted(ticket);
  }

  private forget(ticket: RedisTicket<P>): void {
    this.tickets.delete(ticket.id);
    this.arrivals.remove(ticket);
    ticket.where = "done";
  }

  private hold(userId: string): void {
    this.held.set(userId, (this.held.get(userId) ?? 0) + 1);
  }

  private sendRelease(userId: string): void {
    switch (this.state) {
      case "connected":
        this.call(SCRIPTS.release, [userId]).catch((error: unknown) => this.recover(error).catch(() => undefined));
        return;
      case "fallback":
        this.fallback!.release(userId, this.context.now());
        return;
      case "syncing":
        // Before the re-join is sent its ledger has this release; after, Redis must hear of it, after the re-join.
        if (this.syncSent) void this.gate.then(() => this.sendReleaseAfterSync(userId));
        return;
      default:
        // Unreachable: the re-join on reconnecting counts only the slots still held.
        return;
    }
  }

  private sendReleaseAfterSync(userId: string): void {
    if (this.state === "connected") {
      this.call(SCRIPTS.release, [userId]).catch((error: unknown) => this.recover(error).catch(() => undefined));
    }
  }

  // ---- connection life -----------------------------------------------------------------------

  private call(s: Script, args: readonly string[]): Promise<unknown> {
    const argv = [...this.common, ...args];
    return this.redis.evalsha(s.sha, 1, this.prefix, ...argv).catch((error: unknown) => {
      if (isReply(error) && error.message.startsWith("NOSCRIPT"))
        return this.redis.eval(s.lua, 1, this.prefix, ...argv);
      throw error;
    });
  }

  /** After a failed command: re-join when the lease was lost, else treat the connection as lost. */
  private async recover(error: unknown): Promise<void> {
    if (this.closed)
      throw new StoreUnavailableError({ store: this.where, retryAfter: 1, message: "the bulkhead store is closed" });
    if (isNoLease(error)) {
      if (this.state === "connected") {
        this.log(`this instance's lease in ${this.where} expired; re-joining with the slots it holds`);
        void this.sync();
      }
      return;
    }
    if (this.state !== "connected" && this.state !== "syncing") return;
    // Any other failure means Redis cannot serve us now: fail closed or open until a re-join works.
    if (isReply(error) && !isTransientReply(error)) this.log(`${this.where} refused a script: ${error.message}`);
    this.onConnectionLost();
    // A timeout or a Redis that is loading or read-only: reconnect, which re-joins.
    if (!isReply(error) || isTransientReply(error)) this.redis.disconnect(true);
  }

  private onReady(): void {
    if (this.closed) return;
    void this.sync();
  }

  /** (Re)joins with the ledger; every waiter of this instance is placed again afterwards. */
  private async sync(): Promise<void> {
    const wasDown = this.state === "unavailable" || this.state === "fallback";
    // A newer re-join (the connection came back again meanwhile) supersedes this one.
    const generation = ++this.syncs;
    this.enter("syncing");
    this.syncSent = false;
    // Waiters kept here while failing open leave the fallback store; they are placed in Redis below.
    this.fallback = undefined;
    try {
      // Load the scripts first, so nothing sent after the re-join can run before it.
      for (const s of Object.values(SCRIPTS)) await this.redis.script("LOAD", s.lua);
      if (this.state !== "syncing" || generation !== this.syncs) return;
      const ledger = [...this.held].flatMap(([user, count]) => [user, String(count)]);
      this.syncSent = true;
      this.epoch = String(await this.call(SCRIPTS.sync, [this.epoch, randomBytes(8).toString("hex"), ...ledger]));
    } catch (error) {
      if (this.state === "syncing" && generation === this.syncs) {
        // Out of service again; counted and logged once per outage, not once per attempt.
        this.onConnectionLost(!wasDown);
        if (isReply(error) && !wasDown) this.log(`re-joining ${this.where} failed: ${(error as Error).message}`);
      }
      return;
    }
    if (this.state !== "syncing" || generation !== this.syncs) return;
    this.startError = undefined;
    if (wasDown)
      this.log(`${this.where} is back; this instance re-joined with ${plural(this.heldCount(), "running slot")}`);
    // Waiters whose Redis queue places the re-join dropped, and those of the fallback store, queue again in order.
    const again: RedisTicket<P>[] = [];
    for (let ticket = this.arrivals.shift(); ticket !== undefined; ticket = this.arrivals.shift()) {
      this.tickets.delete(ticket.id);
      if (ticket.where === "redis" || ticket.where === "local") again.push(ticket);
      else ticket.where = "done";
    }
    for (const [id, ticket] of this.tickets) {
      if (ticket.where === "removing") {
        ticket.where = "done";
        this.tickets.delete(id);
      }
    }
    this.enter("connected");
    for (const ticket of again) void this.requeue(ticket);
    this.pullInbox();
    void this.readCluster().catch(() => undefined);
  }

  /** Places a waiter again after a re-join; the outcome arrives as an event. */
  private async requeue(ticket: RedisTicket<P>): Promise<void> {
    ticket.where = "pending";
    ticket.local = undefined;
    let result: EnqueueResult<P>;
    try {
      result = await this.place(ticket);
    } catch (error) {
      this.context.events.failed(ticket, error);
      return;
    }
    if (result.status === "granted") this.context.events.granted(ticket);
    else if (result.status === "rejected") this.context.events.evicted(ticket, result.rejection);
  }

  /** Goes out of service: fail closed or open. `report` counts and logs it (once per outage). */
  private onConnectionLost(report = true): void {
    if (this.closed || (this.state !== "connected" && this.state !== "syncing")) return;
    if (report) this.outages++;
    const log = report ? this.log : () => undefined;
    if (this.failure === "open") {
      log(`lost ${this.where}; admitting by this instance's own caps until it is back (fail open)`);
      this.startFallback();
    } else {
      log(`lost ${this.where}; rejecting requests with 503 until it is back (fail closed)`);
      this.enter("unavailable");
      const error = this.unavailable(false);
      for (let ticket = this.arrivals.shift(); ticket !== undefined; ticket = this.arrivals.shift()) {
        this.tickets.delete(ticket.id);
        ticket.where = "done";
        this.rejectedUnavailable++;
        this.context.events.failed(ticket, error);
      }
    }
  }

  /** Fail open: an in-memory store with this instance's caps, charged with the slots it runs. */
  private startFallback(): void {
    const fallback = new MemoryBulkheadStore<RedisTicket<P>>({
      config: this.context.config,
      now: this.context.now,
      events: {
        granted: (entry) => {
          if (this.fallback === fallback) this.grant(entry.payload);
        },
        evicted: (entry, rejection: BulkheadRejection) => {
          if (this.fallback !== fallback) return;
          this.forget(entry.payload);
          this.context.events.evicted(entry.payload, rejection);
        },
        failed: () => undefined,
      },
    });
    for (const [user, count] of this.held) for (let i = 0; i < count; i++) fallback.tryAcquire(user);
    this.fallback = fallback;
    this.enter("fallback");
    const waiting = [...this.arrivals.values()];
    for (const ticket of waiting) {
      this.arrivals.remove(ticket);
      this.tickets.delete(ticket.id);
      // Waiters in Redis, or in a fallback store dropped by a re-join that failed, are placed here.
      if (ticket.where !== "redis" && ticket.where !== "local") {
        ticket.where = "done";
        continue;
      }
      const result = this.placeLocally(ticket);
      if (result.status === "granted") this.context.events.granted(ticket);
      else if (result.status === "rejected") this.context.events.evicted(ticket, result.rejection);
    }
  }

  private enter(state: State): void {
    this.state = state;
    // Calls waiting on the gate run again, and wait on the new one if the state is still a passing one.
    const open = this.openGate;
    if (state === "connecting" || state === "syncing") this.gate = new Promise((resolve) => (this.openGate = resolve));
    open();
  }

  private unavailable(count = true): StoreUnavailableError {
    if (this.startError !== undefined) return this.startError;
    if (count) this.rejectedUnavailable++;
    return new StoreUnavailableError({ store: this.where, retryAfter: this.context.config.retryAfterSeconds });
  }

  // ---- heartbeat and stats -------------------------------------------------------------------

  private beat(): void {
    // Connected, but out of service after Redis refused a script: try to re-join.
    if ((this.state === "unavailable" || this.state === "fallback") && this.redis.status === "ready") {
      void this.sync();
      return;
    }
    if (this.state !== "connected" || this.beating) return;
    this.beating = true;
    this.readCluster()
      .catch((error: unknown) => this.recover(error).catch(() => undefined))
      .finally(() => (this.beating = false));
  }

  /** Renews the lease and reads the cluster's counters (one script). */
  private async readCluster(): Promise<void> {
    const [now, global, drained, waiting, flat] = (await this.call(SCRIPTS.heartbeat, [
      String(this.context.config.idleUserTtlMs),
    ])) as [number, number, number, number, (string | number)[]];
    this.rate.update(now, drained, waiting);
    const { maxQueuePerUser, maxQueueGlobal } = this.context.config;
    const userCap = maxQueuePerUser >= 0 ? maxQueuePerUser : Number.POSITIVE_INFINITY;
    const local = this.context.now();
    const users: BulkheadUserSnapshot[] = [];
    let within = 0;
    for (let i = 0; i + 3 < flat.length; i += 4) {
      const size = Number(flat[i + 2]);
      const queued = Math.min(size, userCap);
      within += queued;
      users.push({
        userId: String(flat[i]),
        concurrent: Number(flat[i + 1]),
        queued,
        blocked: size - queued,
        // Redis's clock, seen on this instance's clock.
        lastActivity: local - (now - Number(flat[i + 3])),
      });
    }
    const globalQueued = Math.min(within, maxQueueGlobal >= 0 ? maxQueueGlobal : Number.POSITIVE_INFINITY);
    this.cluster = { globalConcurrent: global, globalQueued, globalBlocked: waiting - globalQueued, users };
  }

  private health(): BulkheadStoreHealth {
    const state = this.state === "syncing" ? "connecting" : this.state === "fallback" ? "fallback" : this.state;
    return {
      kind: "redis",
      state,
      instanceId: this.instanceId,
      outages: this.outages,
      rejectedUnavailable: this.rejectedUnavailable,
      admittedOnFallback: this.admittedOnFallback,
    };
  }

  private heldCount(): number {
    let total = 0;
    for (const count of this.held.values()) total += count;
    return total;
  }
}

/**
 * A store factory for `createBulkhead({ store: redisBulkheadStore({ url }) })`:
 * slots and queues in Redis, shared by every instance with the same Redis and
 * key prefix. Options not given come from the bulkhead's `redis*` settings.
 */
export function redisBulkheadStore(options: RedisBulkheadStoreOptions = {}) {
  const checked = checkOptions(options);
  return <P>(context: BulkheadStoreContext<P>): RedisBulkheadStore<P> => new RedisBulkheadStore<P>(context, checked);
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
