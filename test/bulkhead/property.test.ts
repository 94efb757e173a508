import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isAbortedError, isOverloadError, isQueueTimeoutError } from "../../src/errors/index.js";
import { OVERLOAD_POLICIES, type Bulkhead } from "../../src/bulkhead/index.js";
import {
  closeBulkheads,
  deferred,
  flush,
  makeBulkhead,
  observe,
  sleep,
  type Deferred,
  type Observed,
} from "./helpers.js";

type Command =
  | { kind: "arrive"; user: number; abortable: boolean }
  | { kind: "finish"; pick: number; fail: boolean }
  | { kind: "abort"; pick: number }
  | { kind: "wait"; ms: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant("arrive" as const), user: fc.nat(3), abortable: fc.boolean() }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("finish" as const), pick: fc.nat(), fail: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("abort" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 6 }) }) },
);

const settingsArb = fc.record({
  overloadPolicy: fc.constantFrom(...OVERLOAD_POLICIES),
  maxConcurrentPerUser: fc.integer({ min: 1, max: 3 }),
  maxConcurrentGlobal: fc.integer({ min: 1, max: 4 }),
  maxQueuePerUser: fc.integer({ min: 0, max: 3 }),
  maxQueueGlobal: fc.integer({ min: 0, max: 5 }),
  queueTimeoutMs: fc.constantFrom(0, 4),
});

interface Request {
  readonly index: number;
  readonly user: string;
  readonly controller: AbortController | undefined;
  readonly outcome: Observed<string>;
  starts: number;
  work: Deferred<string> | undefined;
  failure: Error | undefined;
}

/** Nobody waits while both their user and the global pool have a free slot. */
function checkWorkConserving(bulkhead: Bulkhead, perUser: number, global: number): void {
  const stats = bulkhead.stats();
  assert.ok(stats.globalConcurrent <= global, `global running ${stats.globalConcurrent} > ${global}`);
  for (const user of stats.users) {
    assert.ok(user.concurrent <= perUser, `${user.userId} running ${user.concurrent} > ${perUser}`);
    if (user.queued + user.blocked > 0) {
      assert.ok(
        user.concurrent === perUser || stats.globalConcurrent === global,
        `${user.userId} waits with a free slot: ${JSON.stringify(stats)}`,
      );
    }
  }
}

test("random arrivals, durations, aborts, throws and timeouts keep every invariant", async () => {
  await fc.assert(
    fc.asyncProperty(settingsArb, fc.array(commandArb, { minLength: 1, maxLength: 40 }), async (settings, commands) => {
      const bulkhead = makeBulkhead(settings);
      const requests: Request[] = [];
      const running = new Set<Request>();
      const runningPerUser = new Map<string, number>();
      const startOrder = new Map<string, number[]>();
      try {
        const start = (request: Request): Promise<string> => {
          request.starts++;
          const count = (runningPerUser.get(request.user) ?? 0) + 1;
          runningPerUser.set(request.user, count);
          running.add(request);
          assert.ok(count <= settings.maxConcurrentPerUser, "per-user cap exceeded");
          assert.ok(running.size <= settings.maxConcurrentGlobal, "global cap exceeded");
          startOrder.set(request.user, [...(startOrder.get(request.user) ?? []), request.index]);
          request.work = deferred<string>();
          return request.work.promise.finally(() => {
            running.delete(request);
            runningPerUser.set(request.user, runningPerUser.get(request.user)! - 1);
          });
        };
        const finish = (request: Request, fail: boolean): void => {
          if (fail) {
            request.failure = new Error(`work ${request.index} failed`);
            request.work!.reject(request.failure);
          } else {
            request.work!.resolve(`result ${request.index}`);
          }
        };

        for (const command of commands) {
          switch (command.kind) {
            case "arrive": {
              const controller = command.abortable ? new AbortController() : undefined;
              const request: Request = {
                index: requests.length,
                user: `user${command.user}`,
                controller,
                starts: 0,
                work: undefined,
                failure: undefined,
                outcome: undefined as unknown as Observed<string>,
              };
              (request as { outcome: Observed<string> }).outcome = observe(
                bulkhead.limit(request.user, () => start(request), controller ? { signal: controller.signal } : {}),
              );
              requests.push(request);
              break;
            }
            case "finish": {
              const list = [...running];
              if (list.length > 0) finish(list[command.pick % list.length]!, command.fail);
              break;
            }
            case "abort": {
              // Mostly waiters (the interesting case); a running request ignores its signal.
              const live = requests.filter((r) => r.controller && !r.controller.signal.aborted);
              const waiting = live.filter((r) => r.starts === 0 && r.outcome.state === "pending");
              const abortable = waiting.length > 0 && command.pick % 4 !== 0 ? waiting : live;
              if (abortable.length > 0) abortable[command.pick % abortable.length]!.controller!.abort();
              break;
            }
            case "wait":
              await sleep(command.ms);
              break;
          }
          await flush();
          checkWorkConserving(bulkhead, settings.maxConcurrentPerUser, settings.maxConcurrentGlobal);
          const stats = bulkhead.stats();
          const waiting = requests.filter((r) => r.outcome.state === "pending" && r.starts === 0).length;
          assert.equal(stats.globalQueued + stats.globalBlocked, waiting, "the store's queue matches the waiters");
          assert.equal(stats.globalConcurrent, running.size, "the store's slots match the running work");
        }

        // Let everything finish: each running request completes, which lets the waiters in.
        for (let rounds = 0; requests.some((r) => r.outcome.state === "pending"); rounds++) {
          assert.ok(rounds < 1000, "the queue does not drain");
          for (const request of [...running]) finish(request, false);
          await flush();
          if (running.size === 0) await sleep(1);
        }

        for (const request of requests) {
          const { state, value, error } = request.outcome;
          if (request.starts === 1) {
            // Ran exactly once, and the caller saw exactly its outcome.
            if (request.failure) assert.equal(error, request.failure);
            else assert.equal(value, `result ${request.index}`);
          } else {
            // Never ran, and was turned away exactly once for a reason the bulkhead gives.
            assert.equal(request.starts, 0, `request ${request.index} ran ${request.starts} times`);
            assert.equal(state, "rejected");
            assert.ok(
              isOverloadError(error) || isAbortedError(error) || isQueueTimeoutError(error),
              `unexpected ${String(error)}`,
            );
            if (isAbortedError(error)) assert.ok(request.controller?.signal.aborted);
            if (isQueueTimeoutError(error)) assert.ok(settings.queueTimeoutMs > 0);
            if (isOverloadError(error)) assert.notEqual(settings.overloadPolicy, "block");
          }
        }
        for (const [user, order] of startOrder) {
          assert.deepEqual(
            order,
            [...order].sort((a, b) => a - b),
            `${user} ran out of order`,
          );
        }
        const stats = bulkhead.stats();
        assert.equal(stats.activeRequests, 0);
      } finally {
        await closeBulkheads();
      }
    }),
    { numRuns: 150 },
  );
});
