import assert from "node:assert/strict";
import { createRuntime, type Runtime, type RunOptions, type RunResult } from "../../src/index.js";
import type { EngineName } from "../../src/engine/index.js";
import type { LimitKind, ScriptError } from "../../src/errors/index.js";

/**
 * Engines the conformance suite runs against. WARDEN_TEST_ENGINES=v8 (or
 * quickjs) narrows it while developing; CI runs all of them.
 */
export const TEST_ENGINES: EngineName[] = (process.env["WARDEN_TEST_ENGINES"]?.split(",") as
  EngineName[] | undefined) ?? ["v8", "quickjs"];

/** Creates a runtime that ignores the environment and any config file, for repeatable tests. */
export async function testRuntime(
  engine: EngineName,
  options: Parameters<typeof createRuntime>[0] = {},
): Promise<Runtime> {
  return createRuntime({ engine, env: {}, configFile: false, poolSize: 1, ...options });
}

/** Runs and asserts success, returning the value. */
export async function value(runtime: Runtime, source: string, options: RunOptions = {}): Promise<unknown> {
  const result = await runtime.run(source, options);
  if (!result.ok) assert.fail(`expected success, got ${result.error.name}: ${result.error.message}`);
  return result.value;
}

/** Runs and asserts that the given limit tripped, returning the result. */
export async function limitHit(
  runtime: Runtime,
  kind: LimitKind,
  source: string,
  options: RunOptions = {},
): Promise<RunResult & { ok: false }> {
  const result = await runtime.run(source, options);
  assert.equal(
    result.ok,
    false,
    `expected the ${kind} limit, got success ${JSON.stringify(result.ok && result.value)}`,
  );
  if (result.ok) throw new Error("unreachable");
  const error = result.error as { kind?: string; name: string; message: string };
  assert.equal(error.kind, kind, `expected the ${kind} limit, got ${error.name}: ${error.message}`);
  return result;
}

/** Runs and asserts a script error, returning it. */
export async function scriptError(runtime: Runtime, source: string, options: RunOptions = {}): Promise<ScriptError> {
  const result = await runtime.run(source, options);
  assert.equal(result.ok, false, "expected a script error");
  if (result.ok) throw new Error("unreachable");
  assert.equal(
    result.error.name,
    "ScriptError",
    `expected ScriptError, got ${result.error.name}: ${result.error.message}`,
  );
  return result.error as ScriptError;
}
