// Random programs (generator.ts), raw vs Warden on each engine: the same
// outcome, or for a program that does not parse, a SyntaxError on both sides
// (Warden's message is its parser's). fast-check shrinks a difference to a
// small program. The seed is fixed so that the suite is repeatable;
// WARDEN_FUZZ_SEED and WARDEN_FUZZ_RUNS explore further.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Runtime, RunResult } from "../../src/index.js";
import { TEST_ENGINES, testRuntime } from "../helpers/runtime.js";
import { program } from "./generator.js";
import { PREPARATION_MODES, startRawRunner, type RawRunner } from "./raw.js";
import type { RawOutcome } from "./raw-protocol.js";

const SEED = Number(process.env["WARDEN_FUZZ_SEED"] ?? 20240229);
const RUNS = Number(process.env["WARDEN_FUZZ_RUNS"] ?? 400);

/**
 * V8 names an immediately called function literal in a "... is not a function"
 * message once raw and twice under Warden (snippets.test.ts,
 * "called-function-literal-message"), in errors and in the messages a program
 * records: one name stands for any run of them here.
 */
function normalise(text: string): string {
  return text.replace(/(\(intermediate value\))+/g, "(intermediate value)");
}

/** The engine's own stack overflow, which Warden turns into its (uncatchable) recursion limit, by design. */
const STACK_OVERFLOW = /^(RangeError: Maximum call stack size exceeded|InternalError: stack overflow)$/;

function fromRaw(outcome: RawOutcome): string {
  if (!outcome.ok && outcome.name === "SyntaxError") return "SyntaxError";
  if (!outcome.ok) {
    const text = `${outcome.name}: ${outcome.message}`;
    return STACK_OVERFLOW.test(text) ? "recursion" : text;
  }
  return outcome.json;
}

function fromWarden(result: RunResult): string {
  if (result.ok) return result.value === undefined ? "" : JSON.stringify(result.value);
  const error = result.error as { name: string; message: string; guestName?: string; guestMessage?: string };
  if (error.guestName === "SyntaxError") return "SyntaxError";
  if ((error as { kind?: string }).kind === "recursion") return "recursion";
  return error.guestName ? `${error.guestName}: ${error.guestMessage}` : `${error.name}: ${error.message}`;
}

for (const engine of TEST_ENGINES)
  for (const { mode, maxInstructions } of PREPARATION_MODES) {
    describe(`differential random programs: raw vs Warden [${engine}, ${mode}]`, () => {
      let runtime: Runtime;
      let raw: RawRunner;
      before(async () => {
        raw = startRawRunner(engine);
        runtime = await testRuntime(engine, {
          limits: { maxInstructions, maxRecursionDepth: -1, timeoutMs: 10_000, allowCodeGeneration: true },
        });
      });
      after(async () => {
        await runtime?.close();
        await raw?.close();
      });

      test(
        `${RUNS} programs without and with semicolons give the same result (seed ${SEED})`,
        { timeout: 300_000 },
        async () => {
          let parsed = 0;
          await fc.assert(
            fc.asyncProperty(program({ directiveByLineBreak: engine === "v8" }), async (source) => {
              const expected = fromRaw(
                await raw.run(source, { kind: "script", filename: "fuzz.js", inputJson: "null" }),
              );
              const actual = fromWarden(await runtime.run(source, { filename: "fuzz.js" }));
              if (expected !== "SyntaxError") parsed++;
              assert.equal(normalise(actual), normalise(expected));
            }),
            { seed: SEED, numRuns: RUNS, endOnFailure: false },
          );
          // Most programs must parse, or the property says little.
          assert.ok(parsed > RUNS / 2, `only ${parsed} of ${RUNS} programs parsed`);
        },
      );
    });
  }
