import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigError,
  ERROR_CODES,
  LIMIT_KINDS,
  LimitExceededError,
  OverloadError,
  QueueTimeoutError,
  ScriptError,
  WardenError,
  isConfigError,
  isLimitExceeded,
  isOverloadError,
  isQueueTimeoutError,
  isScriptError,
  isWardenError,
} from "../../src/errors/index.js";
import type * as ErrorsModule from "../../src/errors/index.js";

test("limit messages are exactly the DESIGN table's and carry the limit", () => {
  const cases: [ConstructorParameters<typeof LimitExceededError>[0], string][] = [
    [{ kind: "timeout", limit: 50 }, "execution timeout after 50ms"],
    [{ kind: "cpu", limit: 10000 }, "CPU time limit exceeded (10000ms)"],
    [{ kind: "instructions", limit: 10_000_000 }, "instruction limit exceeded (10000000)"],
    [{ kind: "memory", limit: 50e6 }, "memory limit exceeded (50MB)"],
    [{ kind: "recursion", limit: 10000 }, "maximum recursion depth exceeded (10000 calls)"],
    [{ kind: "value_size", limit: 1e9 }, "value size exceeds maximum (1GB)"],
    [{ kind: "tasks", limit: 10000 }, "maximum concurrent tasks exceeded (10000)"],
    [{ kind: "connections", limit: 10000 }, "HTTP server capacity exceeded (10000 connections)"],
    [{ kind: "datastore_size", limit: 1e9 }, "datastore size limit exceeded (1GB)"],
    [{ kind: "subrequests", limit: 50 }, "maximum subrequests exceeded (50)"],
  ];
  assert.equal(cases.length, LIMIT_KINDS.length);
  for (const [details, message] of cases) {
    const error = new LimitExceededError(details);
    assert.equal(error.message, message);
    assert.equal(error.kind, details.kind);
    assert.equal(error.limit, details.limit);
    assert.equal(error.status, ERROR_CODES[error.code].status);
    assert.ok(error instanceof WardenError && error instanceof Error);
  }
});

test("with no depth limit set, the recursion error says the engine's own stack ran out", () => {
  assert.equal(
    new LimitExceededError({ kind: "recursion", limit: 0 }).message,
    "maximum recursion depth exceeded (the engine's call stack ran out; no depth limit is set)",
  );
});

test("recursion error carries the hint; others do not", () => {
  const error = new LimitExceededError({ kind: "recursion", limit: 100, observed: 101 });
  assert.match(error.hint ?? "", /infinite recursion.*base cases.*mutual recursion.*deep call chains/);
  assert.equal(error.observed, 101);
  assert.equal(error.unit, "calls");
  assert.equal(new LimitExceededError({ kind: "cpu", limit: 1 }).hint, undefined);
  assert.deepEqual(JSON.parse(JSON.stringify(error)).kind, "recursion");
});

test("HTTP statuses come from one table", () => {
  assert.equal(new OverloadError({ scope: "user", retryAfter: 3, queued: 3, capacity: 3 }).status, 429);
  assert.equal(new QueueTimeoutError(30000, 30001).status, 408);
  assert.equal(new LimitExceededError({ kind: "connections", limit: 1 }).status, 503);
  assert.equal(new LimitExceededError({ kind: "value_size", limit: 1 }).status, 413);
});

test("overload messages are the original limiter's", () => {
  assert.equal(
    new OverloadError({ scope: "user", retryAfter: 5, queued: 3, capacity: 3 }).message,
    "User queue full (3/3). Too many concurrent requests.",
  );
  assert.equal(
    new OverloadError({ scope: "global", retryAfter: 5, queued: 500, capacity: 500 }).message,
    "Global queue full (500/500). System is overloaded.",
  );
});

test("script errors carry the guest's name, message, stack and position", () => {
  const error = new ScriptError({
    guestName: "TypeError",
    guestMessage: "x is not a function",
    guestStack: "TypeError: x is not a function\n    at main (job.ts:3:5)",
    position: { file: "job.ts", line: 3, column: 5 },
  });
  assert.equal(error.message, "TypeError: x is not a function (job.ts:3:5)");
  assert.equal(error.position?.line, 3);
  assert.ok(isScriptError(error) && !isLimitExceeded(error));
});

test("config errors name source, value and expected form", () => {
  const error = new ConfigError({ source: "the flag --timeout", value: "soon", expected: "a duration" });
  assert.equal(error.message, 'invalid value "soon" from the flag --timeout; expected a duration');
});

test("guards work across two copies of the package (brand, not instanceof)", async () => {
  // The built package is a second copy of the module graph: same code, different class identities.
  const builtPackage = "../../dist/index.js";
  const copy = (await import(builtPackage)) as typeof ErrorsModule;
  const foreign = new copy.LimitExceededError({ kind: "memory", limit: 1 });
  assert.ok(!(foreign instanceof LimitExceededError), "the copy must really be a different class");
  assert.ok(isLimitExceeded(foreign) && isWardenError(foreign));
  assert.ok(copy.isOverloadError(new OverloadError({ scope: "global", retryAfter: 1, queued: 1, capacity: 1 })));
  assert.ok(!isConfigError(foreign) && !isQueueTimeoutError(foreign) && !isOverloadError(foreign));
  assert.ok(!isWardenError(new Error("plain")) && !isWardenError(null) && !isWardenError("x"));
});
