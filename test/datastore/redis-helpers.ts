/**
 * Redis for the datastore tests: one private redis-server per test file (the
 * bulkhead tests' helper: 127.0.0.1, a free port, no persistence), a fresh
 * key prefix per store, and a check that no TCP socket outlives a test. When
 * `redis-server` cannot be run, starting fails with an error that says so:
 * the tests fail, they are never skipped.
 */
import { Redis } from "ioredis";
import { startRedis, type TestRedis } from "../bulkhead/redis-server.js";
import type { BackendCase } from "./helpers.js";

export { startRedis, type TestRedis };

let prefixes = 0;

/** A URL of a new, empty datastore on `redis` (its own key prefix). */
export function freshRedisUrl(redis: TestRedis): string {
  return `${redis.url}/0?prefix=test${process.pid}-${++prefixes}`;
}

/** The Redis backend as a case of the shared suites; `server()` is read when a test opens a store. */
export function redisBackend(server: () => TestRedis): BackendCase {
  return { name: "redis", url: () => freshRedisUrl(server()) };
}

/** A plain connection to look at Redis from outside the datastore; the caller quits it. */
export function adminClient(redis: TestRedis): Redis {
  return new Redis(redis.url, { lazyConnect: false });
}

/** How many TCP sockets this process holds. */
export function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((name) => name === "TCPSocketWrap" || name === "TCPWrap").length;
}

/** Fails when TCP sockets are still open a moment after a test (a leaked connection). */
export async function assertNoSockets(): Promise<void> {
  for (let i = 0; i < 50 && tcpSockets() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  const open = tcpSockets();
  if (open > 0) throw new Error(`${open} TCP socket(s) still open after the test: a Redis connection leaked`);
}
