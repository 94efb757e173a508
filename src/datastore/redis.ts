/**
 * The Redis backend (ioredis): a datastore shared by every process that opens
 * the same Redis URL (server, database and key prefix). Loaded only when a
 * `redis://` or `rediss://` URL is opened, so importing the package never
 * loads a Redis client.
 *
 * - Each namespace is three keys under `<prefix>:{<namespace>}:` (the
 *   namespace is the hash tag): `v` a hash of key -> JSON text, `k` a sorted
 *   set of the keys with score 0 (prefix scans in UTF-8 byte order with
 *   `ZRANGEBYLEX`), `n` the usage in bytes.
 * - Every write is one Lua script (see `redis-scripts.ts`) that reads the
 *   usage, checks the cap and writes the entry, the index and the usage, or
 *   refuses: Redis runs a script whole with nothing in between, so writers on
 *   any number of connections never pass the cap together.
 * - Reads are single commands (`HGET`, `HEXISTS`, `ZRANGEBYLEX`, `GET`).
 * - A command is never sent twice (no offline queue, no resend after a
 *   reconnect): a write whose connection drops fails with
 *   `StoreUnavailableError`, and it either ran whole in Redis or not at all.
 */
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { ConfigError, StoreUnavailableError } from "../errors/index.js";
import type { DatastoreBackend } from "./backend.js";
import { checkDatastoreCap, datastoreIncrementRangeError, datastoreTypeError } from "./limits.js";
import { jsonKind } from "./local.js";
import * as LUA from "./redis-scripts.js";
import type { RedisLocation } from "./url.js";

/** A Lua script and its SHA-1, for EVALSHA. */
interface Script {
  readonly lua: string;
  readonly sha: string;
}

const script = (lua: string): Script => ({ lua, sha: createHash("sha1").update(lua).digest("hex") });
const SCRIPTS = {
  set: script(LUA.SET),
  delete: script(LUA.DELETE),
  increment: script(LUA.INCREMENT),
  swap: script(LUA.SWAP),
  push: script(LUA.PUSH),
  take: script(LUA.TAKE),
};

/** What a script answers: a status, then its results. */
type Reply = [status: string, ...results: (string | number)[]];

/** Increments retried this many times when another writer changes the value between the read and the swap of a sum Lua cannot print. */
const MAX_SWAP_ATTEMPTS = 1000;

/** Bytes above every byte of UTF-8 text: the end of a prefix scan. */
const PAST_UTF8 = Buffer.from([0xff]);

/** How long opening waits for the first connection, in milliseconds. */
const CONNECT_TIMEOUT_MS = 10_000;

class RedisBackend implements DatastoreBackend {
  readonly kind = "redis";
  readonly location: string;
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    private readonly where: RedisLocation,
  ) {
    this.location = where.display;
    this.prefix = where.prefix;
  }

  /** The three keys of a namespace: values, index, usage. */
  private keysOf(namespace: string): [string, string, string] {
    const base = `${this.prefix}:{${namespace}}:`;
    return [`${base}v`, `${base}k`, `${base}n`];
  }

  /** Any failure of Redis itself, as the error the datastore reports. */
  private unavailable(operation: string, error: unknown): StoreUnavailableError {
    return new StoreUnavailableError({
      store: `Redis at ${this.where.display}`,
      retryAfter: 1,
      message: `datastore ${operation}(): Redis at ${this.where.display} failed: ${(error as Error).message}`,
      cause: error,
    });
  }

  /** Runs one command, turning a failure into {@link StoreUnavailableError}. */
  private async command<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw this.unavailable(operation, error);
    }
  }

  /** Runs a script on a namespace's keys (loading it on `NOSCRIPT`); refusals become errors. */
  private async run(
    operation: string,
    s: Script,
    namespace: string,
    key: string,
    limit: number,
    args: readonly string[],
  ): Promise<Reply> {
    const keys = this.keysOf(namespace);
    const reply = (await this.command(operation, () =>
      this.redis.evalsha(s.sha, 3, ...keys, key, ...args).catch((error: unknown) => {
        if (error instanceof Error && error.message.startsWith("NOSCRIPT")) {
          return this.redis.eval(s.lua, 3, ...keys, key, ...args);
        }
        throw error;
      }),
    )) as Reply;
    switch (reply[0]) {
      case "limit":
        checkDatastoreCap(limit, Number(reply[1]), Number(reply[2]));
        throw new Error(`Redis refused a datastore write the cap allows (${String(reply[1])} -> ${String(reply[2])})`);
      case "type": {
        const expected = operation === "increment" ? "a number" : "an array";
        throw datastoreTypeError(key, operation, expected, jsonKind(String(reply[1])));
      }
      default:
        return reply;
    }
  }

  async get(namespace: string, key: string): Promise<string | undefined> {
    const [values] = this.keysOf(namespace);
    return (await this.command("get", () => this.redis.hget(values, key))) ?? undefined;
  }

  async has(namespace: string, key: string): Promise<boolean> {
    const [values] = this.keysOf(namespace);
    return (await this.command("has", () => this.redis.hexists(values, key))) === 1;
  }

  async keys(namespace: string, prefix: string, limit: number | undefined): Promise<string[]> {
    const [, index] = this.keysOf(namespace);
    // Score 0 everywhere: the set is ordered by the keys' bytes, which for UTF-8 is code point order.
    // No UTF-8 text has the byte 0xff, so prefix + 0xff is above every key that starts with prefix.
    const min = prefix === "" ? "-" : `[${prefix}`;
    const max = prefix === "" ? "+" : Buffer.concat([Buffer.from(`(${prefix}`), PAST_UTF8]);
    return this.command("keys", () =>
      limit === undefined
        ? this.redis.zrangebylex(index, min, max)
        : this.redis.zrangebylex(index, min, max, "LIMIT", 0, limit),
    );
  }

  async size(namespace: string): Promise<number> {
    const [, , usage] = this.keysOf(namespace);
    return Number((await this.command("size", () => this.redis.get(usage))) ?? 0);
  }

  async set(namespace: string, key: string, json: string, limit: number): Promise<void> {
    await this.run("set", SCRIPTS.set, namespace, key, limit, [json, String(limit)]);
  }

  async delete(namespace: string, key: string): Promise<boolean> {
    const keys = this.keysOf(namespace);
    const removed = await this.command("delete", () =>
      this.redis.evalsha(SCRIPTS.delete.sha, 3, ...keys, key).catch((error: unknown) => {
        if (error instanceof Error && error.message.startsWith("NOSCRIPT")) {
          return this.redis.eval(SCRIPTS.delete.lua, 3, ...keys, key);
        }
        throw error;
      }),
    );
    return removed === 1;
  }

  async increment(namespace: string, key: string, by: number, limit: number): Promise<number> {
    for (let attempt = 0; attempt < MAX_SWAP_ATTEMPTS; attempt++) {
      const reply = await this.run("increment", SCRIPTS.increment, namespace, key, limit, [String(by), String(limit)]);
      if (reply[0] === "ok") return Number(reply[1]);
      // A sum Lua cannot print as JavaScript does (a power of two) or an infinite one: JavaScript
      // adds and prints, then the result is written only if nobody changed the value meanwhile.
      const old = String(reply[1]);
      const result = (old === "" ? 0 : (JSON.parse(old) as number)) + by;
      if (!Number.isFinite(result)) throw datastoreIncrementRangeError(key, result);
      const swapped = await this.run("increment", SCRIPTS.swap, namespace, key, limit, [
        old,
        JSON.stringify(result),
        String(limit),
      ]);
      if (swapped[0] === "ok") return result;
    }
    throw this.unavailable(
      "increment",
      new Error(`key ${JSON.stringify(key)} kept changing under ${MAX_SWAP_ATTEMPTS} attempts; nothing was changed`),
    );
  }

  async push(namespace: string, key: string, json: string, limit: number): Promise<number> {
    const reply = await this.run("push", SCRIPTS.push, namespace, key, limit, [json, String(limit)]);
    return Number(reply[1]);
  }

  async pop(namespace: string, key: string): Promise<string | undefined> {
    const reply = await this.run("pop", SCRIPTS.take, namespace, key, -1, ["pop"]);
    return reply[0] === "ok" ? String(reply[1]) : undefined;
  }

  async shift(namespace: string, key: string): Promise<string | undefined> {
    const reply = await this.run("shift", SCRIPTS.take, namespace, key, -1, ["shift"]);
    return reply[0] === "ok" ? String(reply[1]) : undefined;
  }

  async close(): Promise<void> {
    await closeConnection(this.redis);
  }
}

/** Ends a connection and waits until its socket is gone (QUIT when connected, else at once). */
async function closeConnection(redis: Redis): Promise<void> {
  if (redis.status === "end") return;
  if (redis.status === "reconnecting" || redis.status === "close" || redis.status === "wait") {
    redis.disconnect(); // no socket is open: this only cancels the next attempt
    return;
  }
  const ended = new Promise<void>((resolve) => redis.once("end", () => resolve()));
  if (redis.status === "ready") {
    try {
      await redis.quit();
    } catch {
      redis.disconnect();
    }
  } else {
    redis.disconnect();
  }
  await ended;
}

/**
 * Connects to the Redis a `redis://` URL names and checks that it can run
 * the datastore's scripts. When it cannot be reached (or refuses), raises
 * `ConfigError` naming the URL (password hidden), and no connection is left.
 */
export async function openRedisBackend(location: RedisLocation): Promise<DatastoreBackend> {
  const redis = new Redis({
    host: location.host,
    port: location.port,
    db: location.db,
    ...(location.username === undefined ? {} : { username: location.username }),
    ...(location.password === undefined ? {} : { password: location.password }),
    ...(location.tls ? { tls: { servername: location.host } } : {}),
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // Ending a connection that is already closed (after a failed attempt) starts a timer of this
    // length in ioredis that nothing clears; 0 keeps it from holding the process.
    disconnectTimeout: 0,
    // A command while disconnected fails at once, and a command in flight when the connection drops
    // is never sent again: a write is done once or not at all, never twice.
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    // Commands issued in one tick leave in one write.
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(50 * times, 1000),
  });
  // Failures reach the caller through the commands; the first one while connecting explains a refusal.
  let connectError: Error | undefined;
  const onError = (error: Error): void => void (connectError ??= error);
  redis.on("error", onError);
  try {
    await redis.connect();
    // Loads the scripts; also fails now, not at the first write, where scripting is disabled.
    await Promise.all(Object.values(SCRIPTS).map((s) => redis.script("LOAD", s.lua)));
  } catch (error) {
    await closeConnection(redis);
    throw new ConfigError({
      source: "the datastore URL",
      value: location.display,
      reason: `cannot use Redis at ${location.display}: ${(connectError ?? (error as Error)).message}`,
      expected: "a reachable Redis server (3.2 or later, with Lua scripting)",
      cause: error,
    });
  }
  redis.off("error", onError);
  redis.on("error", () => undefined);
  return new RedisBackend(redis, location);
}
