// Differential test: a corpus of real third-party JavaScript (test/differential/
// corpus.ts) runs raw on each engine (plain isolated-vm, plain quickjs-emscripten:
// no instrumentation, no prelude) and under Warden with every limit out of the
// way, and the results must be identical, for the bundles as esbuild writes them
// and for the same bundles reformatted by Prettier with `semi: false`.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Runtime, RunResult } from "../../src/index.js";
import type { EngineName } from "../../src/engine/index.js";
import { TEST_ENGINES, testRuntime } from "../helpers/runtime.js";
import { buildCorpus, corpusPackages, CORPUS_INPUT, DRIVERS, type CorpusEntry, type Variant } from "./corpus.js";
import { startRawRunner, type RawRunner } from "./raw.js";
import type { RawOutcome } from "./raw-protocol.js";

/** Limits out of the way: the corpus is trusted here, only the results matter. */
// An instruction budget that never runs out: the code is instrumented as under the default limits
// (counted), which is what this corpus proves; snippets.test.ts and generated.test.ts cover the
// uncounted preparation (no instruction budget, no depth limit) too.
const LIMITS = {
  maxInstructions: Number.MAX_SAFE_INTEGER,
  maxRecursionDepth: -1,
  memoryBytes: -1,
  cpuTimeMs: -1,
  maxValueBytes: -1,
  timeoutMs: 120_000,
  allowCodeGeneration: true,
} as const;

const VARIANTS: readonly Variant[] = ["original", "semi-false"];

/**
 * Known differences: entry (`<driver>/<variant>`) -> the Warden bug that breaks
 * it, with a minimal reproduction in a comment. Such an entry runs as a
 * node:test `todo` (reported, not failing the suite) until the fix lands; then
 * it passes and comes out of this list. The first version of this corpus found
 * three causes, all fixed since (directives without a semicolon, `await`/`yield`
 * statements after a line without one, `Function`/`eval` refused).
 */
const KNOWN: Record<string, string> = {};

function knownFailure(name: string, variant: Variant): string | undefined {
  return KNOWN[`${name}/${variant}`];
}

type Observed = { ok: true; value: unknown } | { ok: false; threw: string };

function fromRaw(outcome: RawOutcome): Observed {
  if (!outcome.ok) return { ok: false, threw: `${outcome.name}: ${outcome.message}` };
  return { ok: true, value: outcome.json === "" ? undefined : JSON.parse(outcome.json) };
}

function fromWarden(result: RunResult): Observed {
  if (result.ok) return { ok: true, value: result.value };
  const error = result.error as { name: string; message: string; guestName?: string; guestMessage?: string };
  return {
    ok: false,
    threw: error.guestName ? `${error.guestName}: ${error.guestMessage}` : `${error.name}: ${error.message}`,
  };
}

function show(value: unknown): string {
  const text = value === undefined ? "undefined" : JSON.stringify(value);
  return text.length > 600 ? `${text.slice(0, 600)}... (${text.length} characters)` : text;
}

/** The first place where two JSON values differ, as a path and both sides. */
function firstDifference(
  a: unknown,
  b: unknown,
  path = "$",
): { path: string; raw: unknown; warden: unknown } | undefined {
  if (Object.is(a, b)) return undefined;
  const outcome = (o: unknown) => (o as Observed).ok;
  if (path === "$" && outcome(a) !== outcome(b)) return { path, raw: a, warden: b };
  if (
    typeof a !== "object" ||
    typeof b !== "object" ||
    a === null ||
    b === null ||
    Array.isArray(a) !== Array.isArray(b)
  ) {
    return { path, raw: a, warden: b };
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(left), ...Object.keys(right)])];
  for (const key of keys) {
    if (!(key in left) || !(key in right)) return { path: `${path}.${key}`, raw: left[key], warden: right[key] };
    const found = firstDifference(left[key], right[key], Array.isArray(a) ? `${path}[${key}]` : `${path}.${key}`);
    if (found) return found;
  }
  const order = (o: object) => Object.keys(o).join(",");
  if (order(left) !== order(right)) return { path: `${path} (key order)`, raw: order(left), warden: order(right) };
  return undefined;
}

let corpus: Promise<CorpusEntry[]> | undefined;
const loadCorpus = () => (corpus ??= buildCorpus());

describe("differential corpus: real packages, raw vs Warden", () => {
  test(
    "the corpus: real packages bundled, twice (as built and reformatted with semi: false)",
    { timeout: 300_000 },
    async (t) => {
      const entries = await loadCorpus();
      const packages = corpusPackages();
      for (const variant of VARIANTS) {
        const files = entries.filter((entry) => entry.variant === variant);
        const lines = files.reduce((sum, entry) => sum + entry.lines, 0);
        const bytes = files.reduce((sum, entry) => sum + entry.source.length, 0);
        t.diagnostic(`${variant}: ${files.length} files, ${lines} lines, ${(bytes / 1e6).toFixed(1)} MB`);
      }
      t.diagnostic(`${packages.length} packages: ${packages.join(" ")}`);
      assert.equal(entries.length, DRIVERS.length * VARIANTS.length);
      assert.ok(packages.length >= 10);
      assert.ok(entries.reduce((sum, entry) => sum + entry.lines, 0) > 100_000);
    },
  );

  for (const engine of TEST_ENGINES) {
    describe(`[${engine}]`, () => {
      let runtime: Runtime;
      let raw: RawRunner;
      const rawResults = new Map<string, Promise<RawOutcome>>();
      before(async () => {
        const entries = await loadCorpus();
        raw = startRawRunner(engine as EngineName);
        // Queued at once: the raw runner works through them while Warden runs the same programs.
        for (const entry of entries) {
          const options = { kind: entry.kind, filename: entry.filename, inputJson: JSON.stringify(CORPUS_INPUT) };
          rawResults.set(entry.filename, raw.run(entry.source, options));
        }
        runtime = await testRuntime(engine, { limits: LIMITS });
      });
      after(async () => {
        await runtime?.close();
        await raw?.close();
      });

      for (const spec of DRIVERS) {
        for (const variant of VARIANTS) {
          const todo = knownFailure(spec.name, variant);
          test(
            `${spec.name} (${variant}): same result raw and under Warden`,
            { timeout: 180_000, ...(todo ? { todo } : {}) },
            async () => {
              const entry = (await loadCorpus()).find((e) => e.name === spec.name && e.variant === variant)!;
              const warden = fromWarden(
                await runtime.run(entry.source, { filename: entry.filename, input: CORPUS_INPUT }),
              );
              const expected = fromRaw(await rawResults.get(entry.filename)!);
              assert.ok(expected.ok, `the raw ${engine} run itself failed: ${!expected.ok && expected.threw}`);
              const difference = firstDifference(expected, warden);
              if (difference) {
                assert.fail(
                  `${entry.filename} [${engine}]: raw and Warden results differ at ${difference.path}\n` +
                    `  raw:    ${show(difference.raw)}\n  warden: ${show(difference.warden)}`,
                );
              }
            },
          );
        }
      }
    });
  }
});
