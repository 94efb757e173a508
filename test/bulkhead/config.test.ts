import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { isConfigError, type ConfigError } from "../../src/errors/index.js";
import { BULKHEAD_DEFAULTS, BULKHEAD_SETTINGS } from "../../src/bulkhead/options.js";
import { resolveBulkheadConfig } from "../../src/bulkhead/config.js";
import { tempDir } from "../helpers/cli.js";

const NO_FILE = { file: false } as const;

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(isConfigError(error), `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a ConfigError");
}

test("defaults are DESIGN.md's bulkhead defaults", () => {
  const config = resolveBulkheadConfig({ env: {}, ...NO_FILE });
  assert.equal(config.maxConcurrentPerUser, 3);
  assert.equal(config.maxQueuePerUser, 10);
  assert.equal(config.maxConcurrentGlobal, 100);
  assert.equal(config.maxQueueGlobal, 500);
  assert.equal(config.queueTimeoutMs, 30_000);
  assert.equal(config.retryAfterSeconds, 5);
  assert.equal(config.overloadPolicy, "drop_newest");
  assert.equal(config.idleUserTtlMs, 60_000);
  assert.ok(Object.values(config.sources).every((source) => source === "default"));
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.sources) && Object.isFrozen(BULKHEAD_DEFAULTS));
});

test("every setting is read from its WARDEN_BULKHEAD_* variable", () => {
  const env = {
    WARDEN_BULKHEAD_MAX_CONCURRENT_PER_USER: "5",
    WARDEN_BULKHEAD_MAX_QUEUE_PER_USER: "20",
    WARDEN_BULKHEAD_MAX_CONCURRENT_GLOBAL: "200",
    WARDEN_BULKHEAD_MAX_QUEUE_GLOBAL: "1_000",
    WARDEN_BULKHEAD_QUEUE_TIMEOUT: "1.5min",
    WARDEN_BULKHEAD_RETRY_AFTER: "10",
    WARDEN_BULKHEAD_MAX_RETRY_AFTER: "2min",
    WARDEN_BULKHEAD_POLICY: " DROP_OLDEST ",
    WARDEN_BULKHEAD_IDLE_USER_TTL: "5min",
    WARDEN_BULKHEAD_STORE: " Redis ",
    WARDEN_BULKHEAD_REDIS_URL: "redis://10.0.0.5:6380",
    WARDEN_BULKHEAD_REDIS_PREFIX: "shop:bulkhead",
    WARDEN_BULKHEAD_REDIS_LEASE_TTL: "15s",
    WARDEN_BULKHEAD_REDIS_ON_FAILURE: "OPEN",
  };
  assert.deepEqual(
    BULKHEAD_SETTINGS.map((s) => s.env).sort(),
    Object.keys(env).sort(),
    "the test covers every variable",
  );
  const config = resolveBulkheadConfig({ env, ...NO_FILE });
  assert.deepEqual(
    { ...config, sources: undefined },
    {
      maxConcurrentPerUser: 5,
      maxQueuePerUser: 20,
      maxConcurrentGlobal: 200,
      maxQueueGlobal: 1000,
      queueTimeoutMs: 90_000,
      retryAfterSeconds: 10,
      maxRetryAfterSeconds: 120,
      overloadPolicy: "drop_oldest",
      idleUserTtlMs: 300_000,
      store: "redis",
      redisUrl: "redis://10.0.0.5:6380",
      redisKeyPrefix: "shop:bulkhead",
      redisLeaseTtlMs: 15_000,
      redisOnFailure: "open",
      sources: undefined,
    },
  );
  assert.ok(Object.values(config.sources).every((source) => source === "env"));
});

test("a bad variable names the variable, the value and the expected form", () => {
  const error = configError(() => resolveBulkheadConfig({ env: { WARDEN_BULKHEAD_QUEUE_TIMEOUT: "abc" }, ...NO_FILE }));
  assert.match(error.message, /WARDEN_BULKHEAD_QUEUE_TIMEOUT/);
  assert.match(error.message, /"abc"/);
  assert.match(error.message, /expected a duration such as 50ms, 2s or 5min/);
  assert.equal(error.source, "the variable WARDEN_BULKHEAD_QUEUE_TIMEOUT");
  assert.equal(error.value, "abc");
  assert.equal(error.status, 500);
});

test("negative numbers other than -1, fractions and junk are refused", () => {
  const cases: [string, string, RegExp][] = [
    ["WARDEN_BULKHEAD_MAX_CONCURRENT_PER_USER", "-2", /negative values are not allowed other than -1/],
    ["WARDEN_BULKHEAD_MAX_QUEUE_PER_USER", "1.5", /1\.5 is not a whole number of requests/],
    ["WARDEN_BULKHEAD_MAX_QUEUE_GLOBAL", "lots", /not a whole number/],
    ["WARDEN_BULKHEAD_QUEUE_TIMEOUT", "-5s", /negative values/],
    ["WARDEN_BULKHEAD_QUEUE_TIMEOUT", "0.5ms", /not a whole number of milliseconds/],
    ["WARDEN_BULKHEAD_RETRY_AFTER", "0", /a Retry-After is at least 1 second/],
    ["WARDEN_BULKHEAD_RETRY_AFTER", "2.5", /not a whole number of seconds/],
    ["WARDEN_BULKHEAD_RETRY_AFTER", "1500ms", /not a whole number of seconds/],
    ["WARDEN_BULKHEAD_IDLE_USER_TTL", "0", /idle users must be cleaned up/],
  ];
  for (const [variable, value, reason] of cases) {
    const error = configError(() => resolveBulkheadConfig({ env: { [variable]: value }, ...NO_FILE }));
    assert.match(error.message, new RegExp(variable), `${variable}=${value}`);
    assert.match(error.message, new RegExp(JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    assert.match(error.message, reason, `${variable}=${value}: ${error.message}`);
  }
});

test("an unknown policy lists the valid ones", () => {
  const error = configError(() =>
    resolveBulkheadConfig({ env: { WARDEN_BULKHEAD_POLICY: "drop_random" }, ...NO_FILE }),
  );
  assert.match(error.message, /"drop_random"/);
  assert.match(error.message, /unknown overload policy; expected one of drop_newest, drop_oldest, block/);
});

test("-1 and 0 mean what the docs say", () => {
  const config = resolveBulkheadConfig({
    env: {},
    ...NO_FILE,
    options: {
      maxConcurrentPerUser: -1,
      maxConcurrentGlobal: 0,
      maxQueuePerUser: 0,
      maxQueueGlobal: -1,
      queueTimeoutMs: 0,
    },
  });
  assert.equal(config.maxConcurrentPerUser, -1);
  assert.equal(config.maxConcurrentGlobal, 0);
  assert.equal(config.maxQueuePerUser, 0);
  assert.equal(config.maxQueueGlobal, -1);
  assert.equal(config.queueTimeoutMs, 0);
});

test("options given in code are validated too, quoting the bad value and its type", () => {
  const wrongType = configError(() =>
    resolveBulkheadConfig({ env: {}, ...NO_FILE, options: { maxQueuePerUser: true as unknown as number } }),
  );
  assert.match(wrongType.message, /invalid value true from the option maxQueuePerUser: a boolean is not a number/);

  const fraction = configError(() =>
    resolveBulkheadConfig({ env: {}, ...NO_FILE, options: { maxConcurrentPerUser: 2.5 } }),
  );
  assert.match(fraction.message, /invalid value 2\.5 from the option maxConcurrentPerUser/);

  const unknown = configError(() =>
    resolveBulkheadConfig({ env: {}, ...NO_FILE, options: { maxQueuePerUsr: 3 } as unknown as object }),
  );
  assert.match(unknown.message, /unknown bulkhead setting "maxQueuePerUsr"/);
  assert.match(unknown.message, /maxQueuePerUser/);

  const policy = configError(() =>
    resolveBulkheadConfig({ env: {}, ...NO_FILE, options: { overloadPolicy: "newest" } }),
  );
  assert.match(policy.message, /invalid value "newest" from the option overloadPolicy/);
});

test("durations take units; Retry-After takes seconds or a duration", () => {
  const config = resolveBulkheadConfig({
    env: {},
    ...NO_FILE,
    options: { queueTimeoutMs: "2s", idleUserTtlMs: "1h", retryAfterSeconds: "3s", maxRetryAfterSeconds: 30 },
  });
  assert.equal(config.queueTimeoutMs, 2000);
  assert.equal(config.idleUserTtlMs, 3_600_000);
  assert.equal(config.retryAfterSeconds, 3);
  assert.equal(config.maxRetryAfterSeconds, 30);
});

test("a rule across settings: the Retry-After cap is not below the base", () => {
  const error = configError(() =>
    resolveBulkheadConfig({
      env: { WARDEN_BULKHEAD_RETRY_AFTER: "10" },
      ...NO_FILE,
      options: { maxRetryAfterSeconds: 5 },
    }),
  );
  assert.match(
    error.message,
    /maxRetryAfterSeconds \(5\) is below retryAfterSeconds \(10, from the variable WARDEN_BULKHEAD_RETRY_AFTER\)/,
  );
  assert.equal(error.source, "the option maxRetryAfterSeconds");
});

test("precedence: defaults < config file < environment < options", () => {
  const dir = tempDir();
  writeFileSync(
    join(dir, "warden.config.json"),
    JSON.stringify({ bulkhead: { maxConcurrentPerUser: 4, maxQueuePerUser: 8, queueTimeoutMs: "10s" } }),
  );
  const config = resolveBulkheadConfig({
    cwd: dir,
    env: { WARDEN_BULKHEAD_MAX_QUEUE_PER_USER: "9", WARDEN_BULKHEAD_QUEUE_TIMEOUT: "20s" },
    options: { queueTimeoutMs: 25_000 },
  });
  assert.equal(config.maxConcurrentPerUser, 4);
  assert.equal(config.sources.maxConcurrentPerUser, "config");
  assert.equal(config.maxQueuePerUser, 9);
  assert.equal(config.sources.maxQueuePerUser, "env");
  assert.equal(config.queueTimeoutMs, 25_000);
  assert.equal(config.sources.queueTimeoutMs, "option");
  assert.equal(config.maxConcurrentGlobal, 100);
  assert.equal(config.sources.maxConcurrentGlobal, "default");
});

test("the config file's bulkhead section is validated: unknown keys and bad values", () => {
  const dir = tempDir();
  const path = join(dir, "warden.config.json");
  writeFileSync(path, JSON.stringify({ bulkhead: { maxConcurrent: 4 } }));
  const unknown = configError(() => resolveBulkheadConfig({ cwd: dir, env: {} }));
  assert.match(unknown.message, /the file .*warden\.config\.json key bulkhead/);
  assert.match(unknown.message, /unknown bulkhead setting "maxConcurrent"/);

  writeFileSync(path, JSON.stringify({ bulkhead: { queueTimeoutMs: "soon" } }));
  const bad = configError(() => resolveBulkheadConfig({ file: path, env: {} }));
  assert.match(bad.message, /invalid value "soon" from the file .* key bulkhead\.queueTimeoutMs/);

  writeFileSync(path, JSON.stringify({ bulkhead: [1] }));
  assert.match(configError(() => resolveBulkheadConfig({ cwd: dir, env: {} })).message, /key bulkhead/);
});

test("store settings are checked like the others", () => {
  assert.match(
    configError(() => resolveBulkheadConfig({ env: { WARDEN_BULKHEAD_STORE: "etcd" }, ...NO_FILE })).message,
    /unknown store; expected one of memory, redis/,
  );
  assert.match(
    configError(() => resolveBulkheadConfig({ env: { WARDEN_BULKHEAD_REDIS_URL: "http://x" }, ...NO_FILE })).message,
    /not a Redis URL/,
  );
  assert.match(
    configError(() => resolveBulkheadConfig({ options: { redisOnFailure: "maybe" }, ...NO_FILE })).message,
    /unknown failure mode; expected one of closed, open/,
  );
  assert.match(
    configError(() => resolveBulkheadConfig({ options: { redisLeaseTtlMs: 0 }, ...NO_FILE })).message,
    /a lease must expire/,
  );
});

test("the config file selects the Redis store; the environment and options win over it", () => {
  const file = {
    path: "/srv/warden.config.json",
    document: { bulkhead: { store: "redis", redisUrl: "redis://cache:6379/2", redisOnFailure: "open" } },
  };
  const fromFile = resolveBulkheadConfig({ env: {}, file });
  assert.equal(fromFile.store, "redis");
  assert.equal(fromFile.redisUrl, "redis://cache:6379/2");
  assert.equal(fromFile.redisOnFailure, "open");
  assert.equal(fromFile.sources.store, "config");
  const overridden = resolveBulkheadConfig({
    env: { WARDEN_BULKHEAD_REDIS_URL: "redis://other:6379" },
    options: { redisOnFailure: "closed" },
    file,
  });
  assert.equal(overridden.redisUrl, "redis://other:6379");
  assert.equal(overridden.redisOnFailure, "closed");
  assert.equal(overridden.sources.redisOnFailure, "option");
});

test("store given as a Redis URL is the Redis store at that URL, whatever layer set redisUrl", () => {
  const fromEnv = resolveBulkheadConfig({
    env: { WARDEN_BULKHEAD_STORE: "rediss://:pw@cache:6380/1" },
    options: { redisUrl: "redis://ignored:6379" },
    ...NO_FILE,
  });
  assert.equal(fromEnv.store, "redis");
  assert.equal(fromEnv.redisUrl, "rediss://:pw@cache:6380/1");
  assert.equal(fromEnv.sources.store, "env");
  assert.equal(fromEnv.sources.redisUrl, "env");
  const named = resolveBulkheadConfig({ options: { store: "Redis" }, env: {}, ...NO_FILE });
  assert.equal(named.store, "redis");
  assert.equal(named.redisUrl, "redis://127.0.0.1:6379");
  assert.match(
    configError(() => resolveBulkheadConfig({ options: { store: "redis://" }, env: {}, ...NO_FILE })).message,
    /not a Redis URL/,
  );
  assert.match(
    configError(() => resolveBulkheadConfig({ env: { WARDEN_BULKHEAD_STORE: "postgres://x" }, ...NO_FILE })).message,
    /"postgres:\/\/x" from the variable WARDEN_BULKHEAD_STORE.*or a redis:\/\/ or rediss:\/\/ URL/,
  );
});
