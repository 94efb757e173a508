import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, isConfigError } from "../../src/errors/index.js";
import {
  LIMIT_DEFINITIONS,
  PROFILE_NAMES,
  resolveLimits,
  overrideLimits,
  type ResolvedLimits,
} from "../../src/limits/index.js";
import { dirWith, tempDir } from "../helpers/cli.js";

const EMPTY_ENV = {};

const DESIGN_TABLE = {
  strict: {
    timeoutMs: 5000,
    cpuTimeMs: 1000,
    maxInstructions: 1e6,
    memoryBytes: 10e6,
    maxRecursionDepth: 1000,
    maxValueBytes: 1e6,
    maxConcurrentTasks: 100,
    maxConnections: 1000,
    maxDatastoreBytes: 10e6,
    maxSubrequests: 10,
    warnAt: 0.8,
    allowCodeGeneration: true,
  },
  normal: {
    timeoutMs: 30000,
    cpuTimeMs: 10000,
    maxInstructions: 1e7,
    memoryBytes: 50e6,
    maxRecursionDepth: 10000,
    maxValueBytes: 1e9,
    maxConcurrentTasks: 10000,
    maxConnections: 10000,
    maxDatastoreBytes: 1e9,
    maxSubrequests: 50,
    warnAt: 0.9,
    allowCodeGeneration: true,
  },
  relaxed: {
    timeoutMs: 300000,
    cpuTimeMs: 60000,
    maxInstructions: 1e8,
    memoryBytes: 200e6,
    maxRecursionDepth: 10000,
    maxValueBytes: 1e9,
    maxConcurrentTasks: 10000,
    maxConnections: 10000,
    maxDatastoreBytes: 1e9,
    maxSubrequests: 1000,
    warnAt: 0.95,
    allowCodeGeneration: true,
  },
};

function resolveIn(dir: string, inputs: Parameters<typeof resolveLimits>[0] = {}): ResolvedLimits {
  return resolveLimits({ cwd: dir, env: EMPTY_ENV, ...inputs });
}

test("defaults are the normal profile of the DESIGN table, sourced 'default'", () => {
  const limits = resolveIn(tempDir());
  assert.equal(limits.profile, "normal");
  assert.deepEqual({ ...limits.values }, DESIGN_TABLE.normal);
  for (const def of LIMIT_DEFINITIONS) assert.equal(limits.entries[def.key].source, "default");
});

test("each profile has the DESIGN table's values", () => {
  for (const profile of PROFILE_NAMES) {
    const limits = resolveIn(tempDir(), { profile });
    assert.deepEqual({ ...limits.values }, DESIGN_TABLE[profile], profile);
    assert.equal(limits.entries.timeoutMs.source, "profile");
  }
});

test("precedence: profile < config file < env < flags < options, each with its source", () => {
  const dir = dirWith({
    "warden.config.json": JSON.stringify({
      profile: "strict",
      limits: { timeoutMs: "2s", cpuTimeMs: 300, memoryBytes: "20MB", maxRecursionDepth: 50 },
    }),
  });
  const limits = resolveIn(dir, {
    env: { WARDEN_CPU_TIME: "400ms", WARDEN_MEMORY: "30MB", WARDEN_MAX_RECURSION_DEPTH: "60" },
    flags: { memoryBytes: "40MB", maxRecursionDepth: "70" },
    options: { maxRecursionDepth: 80 },
  });
  assert.equal(limits.profile, "strict");
  assert.equal(limits.profileSource, "config");
  assert.deepEqual(
    [limits.entries.maxInstructions.value, limits.entries.maxInstructions.source],
    [1_000_000, "profile"],
  );
  assert.deepEqual([limits.values.timeoutMs, limits.entries.timeoutMs.source], [2000, "config"]);
  assert.match(limits.entries.timeoutMs.origin, /warden\.config\.json#limits\.timeoutMs$/);
  assert.deepEqual(
    [limits.values.cpuTimeMs, limits.entries.cpuTimeMs.source, limits.entries.cpuTimeMs.origin],
    [400, "env", "WARDEN_CPU_TIME"],
  );
  assert.deepEqual(
    [limits.values.memoryBytes, limits.entries.memoryBytes.source, limits.entries.memoryBytes.origin],
    [40e6, "flag", "--memory"],
  );
  assert.deepEqual([limits.values.maxRecursionDepth, limits.entries.maxRecursionDepth.source], [80, "option"]);
});

test("profile precedence: file < WARDEN_PROFILE < flag", () => {
  const dir = dirWith({ "warden.config.json": JSON.stringify({ profile: "strict" }) });
  assert.equal(resolveIn(dir, { env: { WARDEN_PROFILE: "relaxed" } }).profile, "relaxed");
  const flagged = resolveIn(dir, { env: { WARDEN_PROFILE: "relaxed" }, profile: "normal", profileSource: "flag" });
  assert.equal(flagged.profile, "normal");
  assert.equal(flagged.profileSource, "flag");
});

test("resolved limits are frozen", () => {
  const limits = resolveIn(tempDir());
  assert.ok(Object.isFrozen(limits) && Object.isFrozen(limits.values) && Object.isFrozen(limits.entries.timeoutMs));
  assert.throws(() => {
    (limits.values as Record<string, unknown>).timeoutMs = 1;
  }, TypeError);
});

test("0 and -1 disable a limit and are kept as given", () => {
  const limits = resolveIn(tempDir(), { env: { WARDEN_TIMEOUT: "0", WARDEN_MEMORY: "-1" } });
  assert.deepEqual([limits.values.timeoutMs, limits.entries.timeoutMs.disabled], [0, true]);
  assert.deepEqual([limits.values.memoryBytes, limits.entries.memoryBytes.disabled], [-1, true]);
  assert.equal(limits.entries.cpuTimeMs.disabled, false);
});

test("warnAt accepts fractions and percentages", () => {
  assert.equal(resolveIn(tempDir(), { env: { WARDEN_WARN_AT: "75%" } }).values.warnAt, 0.75);
  assert.equal(resolveIn(tempDir(), { flags: { warnAt: "0.5" } }).values.warnAt, 0.5);
});

test("overrideLimits layers per-call options without touching the base", () => {
  const base = resolveIn(tempDir());
  const next = overrideLimits(base, { timeoutMs: "50ms" });
  assert.equal(next.values.timeoutMs, 50);
  assert.equal(next.entries.timeoutMs.source, "option");
  assert.equal(base.values.timeoutMs, 30000);
  assert.equal(overrideLimits(base, {}), base);
});

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(isConfigError(error), `expected a ConfigError, got ${String(error)}`);
    return error as ConfigError;
  }
  assert.fail("expected a ConfigError");
}

const BAD_ENV: [string, string, RegExp][] = [
  ["WARDEN_MAX_RECURSION_DEPTH", "1.5", /whole number/],
  ["WARDEN_MAX_RECURSION_DEPTH", "-3", /negative/],
  ["WARDEN_TIMEOUT", "-2s", /negative/],
  ["WARDEN_TIMEOUT", "0.5ms", /whole number of milliseconds/],
  ["WARDEN_TIMEOUT", "5 parsecs", /unknown unit/],
  ["WARDEN_MEMORY", "12XB", /unknown unit/],
  ["WARDEN_MEMORY", "0.5B", /whole number of bytes/],
  ["WARDEN_MAX_INSTRUCTIONS", "lots", /not a whole number/],
  ["WARDEN_MAX_TASKS", "10ms", /not a whole number/],
  ["WARDEN_WARN_AT", "1.5", /cannot exceed 1/],
  ["WARDEN_WARN_AT", "ninety", /not a number/],
];

test("every malformed environment value is refused, naming variable, value and expected form", () => {
  for (const [name, value, reason] of BAD_ENV) {
    const error = configError(() => resolveIn(tempDir(), { env: { [name]: value } }));
    assert.match(error.message, new RegExp(`the variable ${name}`), name);
    assert.ok(error.message.includes(JSON.stringify(value)), error.message);
    assert.match(error.message, reason, error.message);
    assert.match(error.message, /expected /);
    assert.equal(error.code, "WARDEN_CONFIG_ERROR");
  }
});

test("unknown profiles list the valid ones", () => {
  const error = configError(() => resolveIn(tempDir(), { env: { WARDEN_PROFILE: "turbo" } }));
  assert.match(error.message, /WARDEN_PROFILE/);
  assert.match(error.message, /"turbo"/);
  assert.match(error.message, /strict, normal, relaxed/);
});

test("config file: unknown keys, bad values and invalid JSON are errors naming the file", () => {
  const unknownLimit = dirWith({ "warden.config.json": JSON.stringify({ limits: { timeout: 5 } }) });
  assert.match(
    configError(() => resolveIn(unknownLimit)).message,
    /"timeout".*warden\.config\.json key limits.*unknown limit key.*timeoutMs/,
  );

  const unknownTop = dirWith({ "warden.config.json": JSON.stringify({ limit: {} }) });
  assert.match(configError(() => resolveIn(unknownTop)).message, /unknown top-level key "limit"/);

  const badValue = dirWith({ "warden.config.json": JSON.stringify({ limits: { maxRecursionDepth: 2.5 } }) });
  assert.match(
    configError(() => resolveIn(badValue)).message,
    /warden\.config\.json key limits\.maxRecursionDepth.*2\.5/,
  );

  const wrongType = dirWith({ "warden.config.json": JSON.stringify({ limits: { timeoutMs: true } }) });
  assert.match(configError(() => resolveIn(wrongType)).message, /limits\.timeoutMs.*boolean/);

  const invalid = dirWith({ "warden.config.json": '{\n  "limits": {\n    "timeoutMs": 5,\n  }\n}' });
  const error = configError(() => resolveIn(invalid));
  assert.match(error.message, /warden\.config\.json/);
  assert.match(error.message, /line 4, column 3/);
});

test("an explicit config file that does not exist is an error; an absent default file is not", () => {
  const dir = tempDir();
  assert.doesNotThrow(() => resolveIn(dir));
  assert.match(
    configError(() => resolveIn(dir, { configFile: "nope.json", configFileSource: "the flag --config" })).message,
    /the flag --config.*no such file/,
  );
});

test("explicit config path is used instead of the working directory's file", () => {
  const dir = tempDir();
  const path = join(dir, "other.json");
  writeFileSync(path, JSON.stringify({ limits: { maxInstructions: 1234 } }));
  const limits = resolveIn(tempDir(), { configFile: path });
  assert.equal(limits.values.maxInstructions, 1234);
  assert.equal(limits.configFile, path);
});

test("a bad value anywhere means nothing is returned", () => {
  const dir = dirWith({ "warden.config.json": JSON.stringify({ limits: { timeoutMs: 100 } }) });
  assert.throws(() => resolveIn(dir, { flags: { cpuTimeMs: "fast" } }), ConfigError);
});
