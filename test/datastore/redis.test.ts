// The shared datastore suites (operations, accounting and the cap, concurrent
// writers, disposal) against the Redis backend, on a redis-server this file
// starts on 127.0.0.1 and a free port, with the same expected results as the
// memory and SQLite backends.
import { after, afterEach, before } from "node:test";
import { cleanUp } from "./helpers.js";
import { assertNoSockets, redisBackend, startRedis, type TestRedis } from "./redis-helpers.js";
import { accountingSuite } from "./suites/accounting.js";
import { concurrencySuite } from "./suites/concurrency.js";
import { disposalSuite } from "./suites/disposal.js";
import { operationsSuite } from "./suites/operations.js";

let redis: TestRedis | undefined;

before(async () => {
  redis = await startRedis(); // fails (not skips) when redis-server is missing
});
after(async () => {
  await redis?.stop();
});
afterEach(async () => {
  await cleanUp();
  await assertNoSockets();
});

const backend = redisBackend(() => {
  if (redis === undefined) throw new Error("redis-server did not start");
  return redis;
});
operationsSuite(backend);
accountingSuite(backend);
concurrencySuite(backend);
disposalSuite(backend);
