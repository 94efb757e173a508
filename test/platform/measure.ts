/**
 * Measures the platform layer's costs (docs/platform.md quotes the output):
 * source sizes, the per-fresh-context cost of installing the loader on raw
 * isolated-vm and raw quickjs-emscripten, and the cost of first use of each
 * group in a fresh context. Not a test; run by hand:
 *
 *   node --no-node-snapshot --import tsx test/platform/measure.ts
 */
import ivm from "isolated-vm";
import {
  newQuickJSWASMModuleFromVariant,
  RELEASE_SYNC,
  type QuickJSContext,
  type QuickJSHandle,
} from "quickjs-emscripten";
import { PLATFORM_GLOBALS, PLATFORM_GROUPS, PLATFORM_LOADER_SOURCE } from "../../src/platform/index.js";
import { installQuickJS } from "./engines.js";
import { v8Installer } from "./v8-install.js";

const ROUNDS = Number(process.env["ROUNDS"] ?? 300);
const GROUP_ROUNDS = Number(process.env["GROUP_ROUNDS"] ?? 40);

/** What first use of each group runs (a group's loads of the groups it needs are counted with it). */
const FIRST_USE: Record<string, { setup?: string; code: string }> = {
  domexception: { code: "void DOMException" },
  encoding: { code: "void TextEncoder" },
  url: { code: "void URL" },
  idna: { setup: "new URL('http://a.example/é')", code: "new URL('http://bücher.example/')" },
  events: { code: "void EventTarget" },
  streams: { code: "void ReadableStream" },
  blob: { code: "void Blob" },
  fetch: { code: "void Headers" },
  clone: { code: "void structuredClone" },
  crypto: { code: "void crypto" },
  misc: { code: "void queueMicrotask" },
};
const TYPICAL: Record<string, string> = {
  "new URL (ASCII host)": "new URL('https://example.com/a/b?c=d#e').href",
  "TextEncoder+TextDecoder round trip": "new TextDecoder().decode(new TextEncoder().encode('héllo'))",
  "new Response(text).text()": "new Response('hello').text()",
  "structuredClone of a small object": "structuredClone({ a: [1, 2, { b: new Date(0) }] })",
  "crypto.randomUUID()": "crypto.randomUUID()",
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function ms(value: number): string {
  return `${value.toFixed(3)} ms`;
}

function sizes(): void {
  console.log("## Sizes (characters of source; all ASCII)");
  console.log(`loader: ${PLATFORM_LOADER_SOURCE.length}`);
  for (const [group, source] of Object.entries(PLATFORM_GROUPS)) {
    const globals = Object.keys(PLATFORM_GLOBALS).filter((name) => PLATFORM_GLOBALS[name] === group);
    console.log(`${group}: ${source.length}  (${globals.join(", ") || "no globals"})`);
  }
}

function v8(): void {
  const isolate = new ivm.Isolate({ memoryLimit: 256 });
  const installV8 = v8Installer(isolate);
  const time = (fn: () => void) => {
    const start = performance.now();
    fn();
    return performance.now() - start;
  };
  // Warm up.
  for (let i = 0; i < 50; i++) {
    const context = isolate.createContextSync();
    installV8(context);
    context.release();
  }
  // The loader alone: host functions stubbed inside the guest, no ivm.Callback.
  const loaderOnly = isolate.compileScriptSync(
    `(${PLATFORM_LOADER_SOURCE})(globalThis, { randomBytes() {}, digest() {}, now() { return 0; } }, (0, eval), () => "")`,
  );
  const bare: number[] = [];
  const installed: number[] = [];
  const loaderAlone: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    bare.push(
      time(() => {
        const context = isolate.createContextSync();
        context.evalSync("void 0");
        context.release();
      }),
    );
    loaderAlone.push(
      time(() => {
        const context = isolate.createContextSync();
        loaderOnly.runSync(context);
        context.evalSync("void 0");
        context.release();
      }),
    );
    installed.push(
      time(() => {
        const context = isolate.createContextSync();
        installV8(context);
        context.evalSync("void 0");
        context.release();
      }),
    );
  }
  console.log("\n## isolated-vm (loader compiled once per isolate; per fresh context)");
  console.log(`context + eval, no layer: ${ms(median(bare))}`);
  console.log(`context + loader + install + eval: ${ms(median(installed))}`);
  console.log(`loader cost: ${ms(median(installed) - median(bare))}`);
  console.log(
    `of which the loader script alone (host stubbed in the guest): ${ms(median(loaderAlone) - median(bare))}`,
  );
  console.log("\nfirst use of each group in a fresh context (median):");
  for (const [group, { setup, code }] of Object.entries(FIRST_USE)) {
    const samples: number[] = [];
    for (let i = 0; i < GROUP_ROUNDS; i++) {
      const context = isolate.createContextSync();
      installV8(context);
      if (setup) context.evalSync(setup);
      context.evalSync("void 0");
      const base = time(() => context.evalSync("void 0"));
      samples.push(time(() => context.evalSync(code)) - base);
      context.release();
    }
    console.log(`${group}: ${ms(median(samples))}`);
  }
  console.log("\ntypical first calls in a fresh context (group loads included):");
  for (const [label, code] of Object.entries(TYPICAL)) {
    const samples: number[] = [];
    for (let i = 0; i < GROUP_ROUNDS; i++) {
      const context = isolate.createContextSync();
      installV8(context);
      const base = time(() => context.evalSync("void 0"));
      samples.push(time(() => context.evalSync(code)) - base);
      context.release();
    }
    console.log(`${label}: ${ms(median(samples))}`);
  }
  isolate.dispose();
}

async function quickjs(): Promise<void> {
  const module = await newQuickJSWASMModuleFromVariant(RELEASE_SYNC);
  const time = (fn: () => void) => {
    const start = performance.now();
    fn();
    return performance.now() - start;
  };
  const withContext = (install: boolean, body: (context: QuickJSContext) => void) => {
    const runtime = module.newRuntime();
    const context = runtime.newContext();
    const handles: QuickJSHandle[] = [];
    try {
      if (install) installQuickJS(context, (handle) => (handles.push(handle), handle));
      body(context);
    } finally {
      for (const handle of handles.reverse()) if (handle.alive) handle.dispose();
      context.dispose();
      runtime.dispose();
    }
  };
  const evalVoid = (context: QuickJSContext, code: string) => {
    const result = context.evalCode(code);
    if (result.error) {
      const error = context.dump(result.error);
      result.error.dispose();
      throw new Error(JSON.stringify(error));
    }
    result.value.dispose();
  };
  for (let i = 0; i < 30; i++) withContext(true, (context) => evalVoid(context, "void 0"));
  const stubbed = `(${PLATFORM_LOADER_SOURCE})(globalThis, { randomBytes() {}, digest() {}, now() { return 0; } }, (0, eval), () => "")`;
  const bare: number[] = [];
  const installed: number[] = [];
  const loaderAlone: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    bare.push(time(() => withContext(false, (context) => evalVoid(context, "void 0"))));
    installed.push(time(() => withContext(true, (context) => evalVoid(context, "void 0"))));
    loaderAlone.push(time(() => withContext(false, (context) => evalVoid(context, stubbed))));
  }
  console.log("\n## quickjs-emscripten (per fresh runtime + context)");
  console.log(`runtime + context + eval, no layer: ${ms(median(bare))}`);
  console.log(`runtime + context + loader + install + eval: ${ms(median(installed))}`);
  console.log(`loader cost: ${ms(median(installed) - median(bare))}`);
  console.log(`of which the loader alone (host stubbed in the guest): ${ms(median(loaderAlone) - median(bare))}`);
  console.log("\nfirst use of each group in a fresh context (median):");
  for (const [group, { setup, code }] of Object.entries(FIRST_USE)) {
    const samples: number[] = [];
    for (let i = 0; i < GROUP_ROUNDS; i++) {
      withContext(true, (context) => {
        if (setup) evalVoid(context, setup);
        const base = time(() => evalVoid(context, "void 0"));
        samples.push(time(() => evalVoid(context, code)) - base);
      });
    }
    console.log(`${group}: ${ms(median(samples))}`);
  }
  console.log("\ntypical first calls in a fresh context (group loads included):");
  for (const [label, code] of Object.entries(TYPICAL)) {
    const samples: number[] = [];
    for (let i = 0; i < GROUP_ROUNDS; i++) {
      withContext(true, (context) => {
        const base = time(() => evalVoid(context, "void 0"));
        samples.push(time(() => evalVoid(context, code)) - base);
      });
    }
    console.log(`${label}: ${ms(median(samples))}`);
  }
}

sizes();
v8();
await quickjs();
