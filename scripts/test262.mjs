// Differential test262: every test (scripts, async ones included; not modules or tests needing
// the `$262` host hooks) run raw on the engine and under Warden on the same engine, outcomes
// compared: "ok", or the name of the error thrown; an async test's outcome is what it passed
// to `$DONE`. A difference means Warden changed what a program does (or hit a limit). Raw V8 is
// isolated-vm (a fresh context per test, a fresh isolate every 100 tests and for every async
// test); raw QuickJS is quickjs-emscripten (a fresh context per test).
//
//   npm run build
//   node --no-node-snapshot scripts/test262.mjs <test262 checkout> [--engine v8|quickjs]
//        [--out differences.json] [test/language ...]
//
// Each test runs non-strict and strict, as its flags allow. The test262 checkout is not part of
// this repository; see docs/runtime.md for the latest figures.
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { createRuntime } from "../dist/index.js";

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: { engine: { type: "string", default: "v8" }, out: { type: "string" } },
});
const [root, ...dirs] = positionals;
if (!root || !["v8", "quickjs"].includes(options.engine)) {
  console.error("usage: scripts/test262.mjs <test262 checkout> [--engine v8|quickjs] [--out file] [dir ...]");
  process.exit(2);
}
const wanted = dirs.length > 0 ? dirs : ["test/language", "test/built-ins"];
/** Features whose tests need host hooks or agents that neither side provides here. */
const SKIPPED_FEATURES = new Set([
  "cross-realm",
  "IsHTMLDDA",
  "host-gc-required",
  "Atomics.waitAsync",
  "SharedArrayBuffer",
  "Atomics",
]);
const PARALLEL = 6;

const harnessFiles = new Map();
function harness(name) {
  if (!harnessFiles.has(name)) harnessFiles.set(name, readFileSync(join(root, "harness", name), "utf8"));
  return harnessFiles.get(name);
}

function testFiles(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) testFiles(path, out);
    else if (name.endsWith(".js") && !name.includes("_FIXTURE")) out.push(path);
  }
  return out;
}

/** The front matter's flags, includes and features (YAML lists, inline or one per line). */
function frontMatter(source) {
  const text = /\/\*---([\s\S]*?)---\*\//.exec(source)?.[1] ?? "";
  const list = (key) => {
    const inline = new RegExp(`^${key}:\\s*\\[(.*)\\]`, "m").exec(text);
    if (inline)
      return inline[1]
        .split(",")
        .map((item) => item.trim())
        .filter(Boolean);
    const block = new RegExp(`^${key}:\\s*\\n((?:\\s+-.*\\n?)+)`, "m").exec(text);
    if (block)
      return block[1]
        .split("\n")
        .map((line) => line.replace(/^\s*-\s*/, "").trim())
        .filter(Boolean);
    return [];
  };
  return { flags: list("flags"), includes: list("includes"), features: list("features") };
}

function runnable(source, meta) {
  const body = source.replace(/\/\*---[\s\S]*?---\*\//, "");
  return !(
    ["module", "raw", "CanBlockIsTrue"].some((flag) => meta.flags.includes(flag)) ||
    /\$262|\bprint\(/.test(body) ||
    meta.features.some((feature) => SKIPPED_FEATURES.has(feature))
  );
}

/**
 * An async test reports through `$DONE`, which here settles a promise that is the program's
 * completion value (so both sides wait for it); a sync test's completion value is undefined
 * (Warden awaits a script whose value is a promise).
 */
const ASYNC_HEAD = `var __done;
var __finished = new Promise(function (resolve) { __done = resolve; });
function $DONE(error) {
  __done(error === undefined ? "done" : "fail:" + (error && error.constructor && error.constructor.name));
}
`;

/** The raw engine: `run(source, async)` answers "ok" (an async test: "ok:" + what it passed to `$DONE`) or "throw:<name>". */
async function rawEngine(engine) {
  const name = (error) => `throw:${error?.name ?? typeof error}`;
  if (engine === "v8") {
    const { default: ivm } = await import("isolated-vm");
    let isolate;
    let runs = 0;
    return {
      async run(source, async) {
        if (async) {
          // Its own isolate: the tests in parallel must not see it disposed under them.
          const own = new ivm.Isolate({ memoryLimit: 256 });
          try {
            const context = own.createContextSync();
            const outcome = await context.eval(source, {
              timeout: 5000,
              filename: "test.js",
              promise: true,
              copy: true,
            });
            return `ok:${outcome}`;
          } catch (error) {
            return name(error);
          } finally {
            own.dispose();
          }
        }
        if (!isolate || runs++ % 100 === 0) {
          isolate?.dispose();
          isolate = new ivm.Isolate({ memoryLimit: 256 });
        }
        const context = isolate.createContextSync();
        try {
          context.evalSync(source, { timeout: 5000, filename: "test.js" });
          return "ok";
        } catch (error) {
          return name(error);
        } finally {
          context.release();
        }
      },
      close: () => isolate?.dispose(),
    };
  }
  const { newQuickJSWASMModule } = await import("quickjs-emscripten");
  // A fresh module every 100 tests, and nothing freed in between: a test can leave objects that
  // make QuickJS's own leak check abort when its runtime is freed.
  let module;
  let runs = 0;
  return {
    async run(source, async) {
      if (!module || runs++ % 100 === 0) module = await newQuickJSWASMModule();
      const current = module;
      const runtime = current.newRuntime();
      runtime.setMemoryLimit(256 * 2 ** 20);
      // On this thread a deeper QuickJS stack lets V8's own stack overflow first (docs/engines.md).
      runtime.setMaxStackSize(200 * 1024);
      const deadline = Date.now() + 5000;
      runtime.setInterruptHandler(() => Date.now() > deadline);
      try {
        const context = runtime.newContext();
        const result = context.evalCode(source, "test.js");
        if (result.error) return name(context.dump(result.error));
        if (!async) return "ok";
        // Jobs until the completion promise settles (async tests need no timers).
        for (let i = 0; i < 10_000 && context.getPromiseState(result.value).type === "pending"; i++) {
          if (runtime.executePendingJobs(100).value === 0) break;
        }
        const state = context.getPromiseState(result.value);
        if (state.type === "fulfilled") return `ok:${context.dump(state.value)}`;
        if (state.type === "rejected") return name(context.dump(state.error));
        return "pending";
      } catch (error) {
        module = undefined; // the module may be damaged
        return `crash:${error?.name}`;
      }
    },
    close: () => {},
  };
}

const raw = await rawEngine(options.engine);
const runtime = await createRuntime({
  engine: options.engine,
  env: {},
  configFile: false,
  limits: { maxInstructions: 1e9, timeoutMs: 10_000, cpuTimeMs: 10_000, memoryBytes: "256MB" },
});
async function underWarden(source, async) {
  const result = await runtime.run(source, { filename: "test.js" });
  if (result.ok) return async ? `ok:${result.value}` : "ok";
  const error = result.error;
  // A thrown primitive reaches the host as an Error "uncaught <type>: <value>".
  const primitive = /^uncaught (\w+): /.exec(error.guestMessage ?? "");
  if (primitive) return `throw:${primitive[1]}`;
  if (error.guestName !== undefined) return `throw:${error.guestName}`;
  return `warden:${error.code}:${error.message}`;
}

const differences = [];
let runs = 0;
let skipped = 0;
const started = performance.now();
for (const dir of wanted) {
  const files = testFiles(join(root, dir));
  let next = 0;
  const lane = async () => {
    while (next < files.length) {
      const file = files[next++];
      const source = readFileSync(file, "utf8");
      const meta = frontMatter(source);
      if (!runnable(source, meta)) {
        skipped++;
        continue;
      }
      const modes = meta.flags.includes("onlyStrict")
        ? [true]
        : meta.flags.includes("noStrict")
          ? [false]
          : [false, true];
      const async = meta.flags.includes("async");
      const includes = ["assert.js", "sta.js", ...meta.includes.filter((name) => name !== "doneprintHandle.js")]
        .map(harness)
        .join("\n");
      for (const strict of modes) {
        const head = `${strict ? '"use strict";\n' : ""}${async ? ASYNC_HEAD : ""}`;
        const program = `${head}${includes}\n${source}\n;${async ? "__finished" : "void 0"};\n`;
        const expected = await raw.run(program, async);
        const got = await underWarden(program, async);
        runs++;
        if (expected !== got)
          differences.push({ file: file.slice(root.length + 1), strict, raw: expected, warden: got });
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, lane));
}
const seconds = ((performance.now() - started) / 1000).toFixed(0);
console.log(
  `${options.engine}: ${runs} runs, ${skipped} files skipped, ${differences.length} differences, ${seconds} s`,
);
for (const difference of differences) {
  console.log(
    `${difference.strict ? "strict" : "sloppy"} ${difference.file}: raw ${difference.raw}, warden ${difference.warden.slice(0, 120)}`,
  );
}
if (options.out) writeFileSync(options.out, `${JSON.stringify(differences, null, 1)}\n`);
await runtime.close();
raw.close();
