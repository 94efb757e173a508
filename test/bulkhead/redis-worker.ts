/**
 * One instance of a test cluster: a child process with a bulkhead on a shared
 * Redis, driven by its parent over IPC (see redis-cluster.test.ts). Every
 * request that runs counts itself in a second "checker" Redis, which says
 * whether the caps were ever exceeded over all instances together.
 */
import fc from "fast-check";
import { Redis } from "ioredis";
import {
  isAbortedError,
  isOverloadError,
  isQueueTimeoutError,
  isStoreUnavailableError,
} from "../../src/errors/index.js";
import { createBulkhead, type BulkheadConfigOptions, type BulkheadPermit } from "../../src/bulkhead/index.js";
import { redisBulkheadStore } from "../../src/bulkhead/redis/index.js";

/** What the parent asks for. */
export interface WorkerTask {
  readonly mode: "load" | "hold";
  readonly url: string;
  readonly checkerUrl: string;
  readonly keyPrefix: string;
  readonly leaseTtlMs: number;
  readonly settings: BulkheadConfigOptions & { maxConcurrentPerUser: number; maxConcurrentGlobal: number };
  readonly seed: number;
  readonly requests: number;
  /** Spread the load over this long (ms). */
  readonly spanMs: number;
}

/** What a worker reports at the end of a load. */
export interface WorkerReport {
  readonly submitted: number;
  readonly ran: number;
  readonly rejected: Record<string, number>;
  readonly twice: number;
  readonly violations: readonly string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(task: WorkerTask): Promise<void> {
  const checker = new Redis(task.checkerUrl);
  const bulkhead = createBulkhead({
    env: false,
    configFile: false,
    ...task.settings,
    store: redisBulkheadStore({ url: task.url, keyPrefix: task.keyPrefix, leaseTtlMs: task.leaseTtlMs, log: false }),
  });
  await bulkhead.ready();
  const { maxConcurrentPerUser, maxConcurrentGlobal } = task.settings;

  if (task.mode === "hold") {
    // Takes `requests` slots and queues three more, then waits to be killed.
    const permits: BulkheadPermit[] = [];
    for (let i = 0; i < task.requests; i++) permits.push(await bulkhead.acquire(`user${i}`));
    for (let i = 0; i < 3; i++) void bulkhead.acquire(`user${i}`).catch(() => undefined);
    await sleep(200);
    process.send!({ holding: permits.length });
    await new Promise(() => undefined);
  }

  process.send!({ started: true });
  const requestArb = fc.record({
    user: fc.nat(4),
    at: fc.integer({ min: 0, max: task.spanMs }),
    work: fc.integer({ min: 1, max: 30 }),
    abortAfter: fc.option(fc.integer({ min: 1, max: 50 }), { freq: 5 }),
  });
  const requests = fc.sample(fc.array(requestArb, { minLength: task.requests, maxLength: task.requests }), {
    seed: task.seed,
    numRuns: 1,
  })[0]!;
  const violations: string[] = [];
  const rejected: Record<string, number> = {};
  let ran = 0;
  let twice = 0;
  await Promise.all(
    requests.map(async (request, index) => {
      await sleep(request.at);
      const user = `user${request.user}`;
      const signal = request.abortAfter === null ? undefined : AbortSignal.timeout(request.abortAfter);
      let runs = 0;
      try {
        await bulkhead.limit(
          user,
          async () => {
            if (++runs > 1) twice++;
            ran++;
            const [u, g] = (await checker.multi().incr(`u:${user}`).incr("global").exec())!.map((r) => Number(r[1]));
            if (u! > maxConcurrentPerUser) violations.push(`${user} ran ${u} at once (cap ${maxConcurrentPerUser})`);
            if (g! > maxConcurrentGlobal) violations.push(`${g} ran at once (cap ${maxConcurrentGlobal})`);
            await sleep(request.work);
            await checker.multi().decr(`u:${user}`).decr("global").exec();
          },
          signal === undefined ? {} : { signal },
        );
      } catch (error) {
        const kind = isOverloadError(error)
          ? "overload"
          : isQueueTimeoutError(error)
            ? "timeout"
            : isAbortedError(error)
              ? "aborted"
              : isStoreUnavailableError(error)
                ? "unavailable"
                : `unexpected: ${String(error)} (request ${index})`;
        rejected[kind] = (rejected[kind] ?? 0) + 1;
      }
    }),
  );
  const report: WorkerReport = { submitted: requests.length, ran, rejected, twice, violations };
  process.send!(report);
  await bulkhead.close();
  checker.disconnect();
}

process.once("message", (task: WorkerTask) => {
  run(task).catch((error: unknown) => {
    process.send!({ crashed: String((error as Error)?.stack ?? error) });
  });
});
