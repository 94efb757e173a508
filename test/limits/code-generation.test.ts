// allowCodeGeneration: an on/off setting resolved like every limit (defaults,
// profile, config file, environment, flags, options) and carried to the engines
// as a plain boolean in LimitValues.
import { test } from "node:test";
import assert from "node:assert/strict";
import { deserialize, serialize } from "node:v8";
import { isConfigError, type ConfigError } from "../../src/errors/index.js";
import {
  definitionOf,
  LIMIT_DEFINITIONS,
  PROFILE_NAMES,
  overrideLimits,
  parseLimitValue,
  resolveLimits,
  type LimitInputs,
  type LimitValues,
  type ResolvedLimits,
} from "../../src/limits/index.js";
import { Runtime, createRuntime } from "../../src/index.js";
import type { Engine, EngineRunRequest } from "../../src/engine/index.js";
import type { RunMessage } from "../../src/engine/protocol.js";
import { dirWith, tempDir } from "../helpers/cli.js";
import { TEST_ENGINES, testRuntime } from "../helpers/runtime.js";

function resolveIn(dir: string, inputs: LimitInputs = {}): ResolvedLimits {
  return resolveLimits({ cwd: dir, env: {}, ...inputs });
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(isConfigError(error), `expected a ConfigError, got ${String(error)}`);
    return error as ConfigError;
  }
  assert.fail("expected a ConfigError");
}

const EXPECTED = /expected true or false \(or 1 or 0\)$/;

test("allowCodeGeneration is true in every profile, a boolean with unit 'boolean', never 'disabled'", () => {
  const def = definitionOf("allowCodeGeneration");
  assert.deepEqual(
    [def.type, def.unit, def.env, def.flag, def.kind],
    ["boolean", "boolean", "WARDEN_ALLOW_CODE_GENERATION", "--allow-code-generation", undefined],
  );
  assert.ok(LIMIT_DEFINITIONS.includes(def));
  const defaults = resolveIn(tempDir());
  assert.equal(defaults.values.allowCodeGeneration, true);
  assert.deepEqual(
    { ...defaults.entries.allowCodeGeneration },
    {
      key: "allowCodeGeneration",
      value: true,
      unit: "boolean",
      source: "default",
      origin: "built-in",
      disabled: false,
    },
  );
  for (const profile of PROFILE_NAMES) {
    const limits = resolveIn(tempDir(), { profile });
    assert.equal(limits.values.allowCodeGeneration, true, profile);
    assert.equal(limits.entries.allowCodeGeneration.source, "profile");
  }
});

test("every source sets it, with its source and origin, in the usual precedence", () => {
  const dir = dirWith({ "warden.config.json": JSON.stringify({ limits: { allowCodeGeneration: false } }) });
  const file = resolveIn(dir);
  assert.equal(file.values.allowCodeGeneration, false);
  assert.equal(file.entries.allowCodeGeneration.source, "config");
  assert.match(file.entries.allowCodeGeneration.origin, /warden\.config\.json#limits\.allowCodeGeneration$/);

  const env = resolveIn(dir, { env: { WARDEN_ALLOW_CODE_GENERATION: "true" } });
  assert.deepEqual(
    [env.values.allowCodeGeneration, env.entries.allowCodeGeneration.source, env.entries.allowCodeGeneration.origin],
    [true, "env", "WARDEN_ALLOW_CODE_GENERATION"],
  );

  const flag = resolveIn(dir, { env: { WARDEN_ALLOW_CODE_GENERATION: "true" }, flags: { allowCodeGeneration: "0" } });
  assert.deepEqual(
    [flag.values.allowCodeGeneration, flag.entries.allowCodeGeneration.origin],
    [false, "--allow-code-generation"],
  );

  const option = resolveIn(dir, {
    env: { WARDEN_ALLOW_CODE_GENERATION: "false" },
    flags: { allowCodeGeneration: "false" },
    options: { allowCodeGeneration: true },
  });
  assert.deepEqual([option.values.allowCodeGeneration, option.entries.allowCodeGeneration.source], [true, "option"]);

  // An empty variable is ignored, as for every limit.
  assert.equal(resolveIn(dir, { env: { WARDEN_ALLOW_CODE_GENERATION: "" } }).values.allowCodeGeneration, false);
});

test("accepted spellings: true/false and 1/0, as booleans, numbers or text in any case", () => {
  const def = definitionOf("allowCodeGeneration");
  for (const raw of [true, 1, "true", "TRUE", " True ", "1"]) assert.equal(parseLimitValue(def, raw, "test"), true);
  for (const raw of [false, 0, "false", "FALSE", " false\n", "0"])
    assert.equal(parseLimitValue(def, raw, "test"), false);
});

test("bad values are refused naming the source, the value and the expected form", () => {
  const cases: [LimitInputs, RegExp][] = [
    [
      { env: { WARDEN_ALLOW_CODE_GENERATION: "yes" } },
      /^invalid value "yes" from the variable WARDEN_ALLOW_CODE_GENERATION: not true or false;/,
    ],
    [
      { env: { WARDEN_ALLOW_CODE_GENERATION: "2" } },
      /^invalid value "2" from the variable WARDEN_ALLOW_CODE_GENERATION/,
    ],
    [
      { env: { WARDEN_ALLOW_CODE_GENERATION: "-1" } },
      /^invalid value "-1" from the variable WARDEN_ALLOW_CODE_GENERATION/,
    ],
    [
      { flags: { allowCodeGeneration: "off" } },
      /^invalid value "off" from the flag --allow-code-generation: not true or false;/,
    ],
    [
      { options: { allowCodeGeneration: "maybe" } },
      /^invalid value "maybe" from the option limits\.allowCodeGeneration/,
    ],
  ];
  for (const [inputs, pattern] of cases) {
    const error = configError(() => resolveIn(tempDir(), inputs));
    assert.match(error.message, pattern);
    assert.match(error.message, EXPECTED);
  }
  for (const [raw, reason] of [
    [2, /^invalid value 2 from .*: only the numbers 1 and 0 mean true and false;/],
    ["nope", /^invalid value "nope" from .*: not true or false;/],
    [null, /^invalid value null from .*: a null is not a boolean;/],
    [[true], /^invalid value \[true\] from .*: an array is not a boolean;/],
    [{}, /^invalid value \{\} from .*: an object is not a boolean;/],
  ] as const) {
    const dir = dirWith({ "warden.config.json": JSON.stringify({ limits: { allowCodeGeneration: raw } }) });
    const error = configError(() => resolveIn(dir));
    assert.match(error.message, /warden\.config\.json key limits\.allowCodeGeneration/);
    assert.match(error.message, reason);
    assert.match(error.message, EXPECTED);
  }
  // A boolean is still refused where a number is needed.
  const dir = dirWith({ "warden.config.json": JSON.stringify({ limits: { timeoutMs: false } }) });
  assert.match(configError(() => resolveIn(dir)).message, /limits\.timeoutMs.*a boolean is not a duration/);
});

test("per-run overrides; the values stay frozen plain data with a real boolean", () => {
  const base = resolveIn(tempDir());
  const off = overrideLimits(base, { allowCodeGeneration: false });
  assert.equal(off.values.allowCodeGeneration, false);
  assert.equal(off.entries.allowCodeGeneration.source, "option");
  assert.equal(base.values.allowCodeGeneration, true);
  assert.equal(overrideLimits(off, { allowCodeGeneration: "1" }).values.allowCodeGeneration, true);
  assert.equal(typeof off.values.allowCodeGeneration, "boolean");
  assert.ok(Object.isFrozen(off.values) && Object.isFrozen(off.entries.allowCodeGeneration));
  // The numeric limits are untouched and still numbers.
  assert.equal(off.values.timeoutMs, 30000);
});

test("the V8 sandbox message carries it unchanged (IPC uses structured cloning; JSON too)", () => {
  const limits: LimitValues = overrideLimits(resolveIn(tempDir()), { allowCodeGeneration: false }).values;
  const message: RunMessage = { type: "run", id: 7, source: "1", filename: "x.js", limits, inputJson: undefined };
  const cloned = deserialize(serialize(message)) as RunMessage;
  assert.deepEqual(cloned.limits, { ...limits });
  assert.equal(cloned.limits.allowCodeGeneration, false);
  assert.equal(typeof cloned.limits.allowCodeGeneration, "boolean");
  assert.equal((JSON.parse(JSON.stringify(message)) as RunMessage).limits.allowCodeGeneration, false);
});

test("createRuntime and run() options reach the engine as limits.allowCodeGeneration", async () => {
  const seen: boolean[] = [];
  const engine: Engine = {
    name: "v8",
    run: async (request: EngineRunRequest) => {
      seen.push(request.limits.allowCodeGeneration);
      return { ok: true, json: "1", usage: { wallMs: 0, cpuMs: 0, instructions: 0, peakMemoryBytes: 0 } };
    },
    load: async () => assert.fail("load is not used here"),
    close: async () => {},
  };
  const limits = resolveLimits({ env: {}, configFile: false, options: { allowCodeGeneration: false } });
  const runtime = new Runtime(engine, limits);
  await runtime.run("1");
  await runtime.run("1", { limits: { allowCodeGeneration: true } });
  await runtime.run("1", { limits: { timeoutMs: "1s" } });
  await runtime.close();
  assert.deepEqual(seen, [false, true, false]);

  const created = await createRuntime({ env: {}, configFile: false, limits: { allowCodeGeneration: false } });
  try {
    assert.equal(created.limits.values.allowCodeGeneration, false);
    assert.equal(created.limits.entries.allowCodeGeneration.origin, "limits.allowCodeGeneration");
  } finally {
    await created.close();
  }
  await assert.rejects(
    createRuntime({ env: {}, configFile: false, limits: { allowCodeGeneration: "sometimes" } }),
    (error: unknown) => isConfigError(error) && /limits\.allowCodeGeneration/.test((error as Error).message),
  );
  await assert.rejects(
    createRuntime({ env: { WARDEN_ALLOW_CODE_GENERATION: "nah" }, configFile: false }),
    (error: unknown) => isConfigError(error) && /WARDEN_ALLOW_CODE_GENERATION/.test((error as Error).message),
  );
});

const CODE_GENERATION = [
  "eval('1 + 1')",
  "new Function('return 1')()",
  "Function('return 1')()",
  "new (Object.getPrototypeOf(async function () {}).constructor)('return 1')",
  "new (Object.getPrototypeOf(function* () {}).constructor)('yield 1')",
  "new (Object.getPrototypeOf(async function* () {}).constructor)('yield 1')",
];

for (const engine of TEST_ENGINES) {
  test(`[${engine}] allowCodeGeneration: false refuses eval and every function constructor with an EvalError`, async () => {
    const runtime = await testRuntime(engine, { limits: { allowCodeGeneration: false } });
    try {
      for (const code of CODE_GENERATION) {
        const result = await runtime.run(`try { ${code}; "allowed" } catch (e) { e.name }`);
        assert.ok(result.ok, `${code}: ${!result.ok && result.error.message}`);
        assert.equal(result.value, "EvalError", code);
      }
      // Ordinary code runs as before.
      const plain = await runtime.run("[1, 2, 3].map((x) => x * 2)");
      assert.ok(plain.ok);
      assert.deepEqual(plain.value, [2, 4, 6]);
    } finally {
      await runtime.close();
    }
  });
}
