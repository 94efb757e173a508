// V8 makes a short warm call synchronously when its CPU budget is at most 100 ms
// (src/engine/v8/instance.ts), asynchronously above: the same calls and Workers-style fetches
// under both budgets must give the same results, responses, console lines, warnings and datastore
// effects.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createRuntime, type RunResult, type Runtime } from "../../src/index.js";

/** Each case's module, called three times with 1, 2 and 3. */
const CASES: Record<string, string> = {
  "console lines and a value": `export default (n) => { console.log("a", n); console.warn({ b: [1, 2] }); console.error("c"); return { n, list: [n, n + 1] } }`,
  "an Error thrown": `export default () => { console.log("before"); throw new TypeError("bad input") }`,
  "a string thrown": `export default () => { throw "plain" }`,
  "a rejected promise": `export default async () => { await null; return Promise.reject(new RangeError("later")) }`,
  "a timer": `export default async (n) => { await new Promise((r) => setTimeout(r, 5)); console.log("woke"); return n * 2 }`,
  "eval and Function": `export default (n) => eval("n + 1") + new Function("x", "return x * 3")(n)`,
  // The limits end the third call only: a limit recycles the instance, whose next call is a first
  // call again (asynchronous), so the first two are short ones.
  "a result over the value-size limit": `export default (n) => n < 3 ? n : "x".repeat(20000)`,
  "recursion past the limit": `export default (n) => { const f = (d) => f(d + 1); return n < 3 ? n : f(0) }`,
  "instructions past the budget": `export default (n) => { let i = 0; if (n === 3) for (;;) i++; return n }`,
  // 8 MB at a time: the memory limit, far from the CPU budget however busy the machine.
  "memory past the limit": `export default (n) => { const a = []; if (n === 3) for (;;) a.push(new Uint8Array(8 << 20)); return n }`,
  "a datastore write awaited, then read": `export default async (n) => { const d = datastore("t"); await d.set("k" + n, n); return d.get("k" + n) }`,
  "a datastore write not awaited": `export default (n) => { datastore("u").set("k", n); return "sent" }`,
  "a warning at the instruction budget's threshold": `export default () => { let s = 0; for (let i = 0; i < 9000; i++) s += i; return s }`,
  undefined: `export default () => {}`,
};

const LIMITS = {
  timeoutMs: 5000,
  maxValueBytes: 10000,
  maxRecursionDepth: 200,
  maxInstructions: 10000,
  memoryBytes: "32MB",
};

/** Workers-style modules, each fetched three times with a POST of a JSON body and headers. */
const FETCH_CASES: Record<string, string> = {
  "a request read whole, a response with headers and a status": `export default { async fetch(request, env) {
    const body = await request.json();
    console.log(request.method, new URL(request.url).pathname, request.headers.get("x-n"));
    return new Response(JSON.stringify({ body, env }), { status: 201, statusText: "Made", headers: { "x-a": "1", "set-cookie": "a=1" } });
  } };`,
  "Response.json, a string and plain data": `export default async (request) => {
    const n = Number(request.headers.get("x-n"));
    return n === 1 ? Response.json({ n }) : n === 2 ? "text " + n : { n, list: [n] };
  };`,
  "a streamed response": `export default { fetch() {
    const chunks = ["a", "b", "c"];
    return new Response(new ReadableStream({ pull(c) { const next = chunks.shift(); if (next === undefined) c.close(); else c.enqueue(new TextEncoder().encode(next)); } }));
  } };`,
  waitUntil: `let done = 0; export default { fetch(request, env, ctx) {
    ctx.waitUntil(new Promise((r) => setTimeout(r, 5)).then(() => { done++; console.log("waited", done); }));
    return new Response("done " + done);
  } };`,
  "a thrown error": `export default { fetch() { console.log("failing"); throw new Error("no") } };`,
  "a body over the value-size limit": `export default { fetch() { return new Response("x".repeat(20000)) } };`,
};

interface Seen {
  result: { ok: true; value: unknown } | { ok: false; code: string; message: string };
  lines: string[];
  warnings: string[];
}

describe("v8 warm calls: synchronous and asynchronous alike", () => {
  let runtime: Runtime;
  const warnings: string[] = [];
  before(async () => {
    runtime = await createRuntime({ engine: "v8", poolSize: 1, limits: LIMITS, datastore: "memory:" });
    runtime.on("warning", (event: { budget: string }) => warnings.push(event.budget));
  });
  after(async () => {
    await runtime.close();
  });

  /** Three calls of a fresh app under a CPU budget, and what the datastore kept. */
  async function observe(source: string, cpuTimeMs: number): Promise<{ calls: Seen[]; stored: unknown }> {
    const store = await runtime.load(
      `export default async (clear) => { const d = datastore("u"); if (clear) await d.delete("k"); return d.get("k") }`,
    );
    await store.call(true);
    const app = await runtime.load(source, { instances: 1, limits: { cpuTimeMs } });
    const calls: Seen[] = [];
    try {
      // The first call of an instance is always asynchronous; the later ones are what differs.
      for (let i = 1; i <= 3; i++) {
        const lines: string[] = [];
        warnings.length = 0;
        const result: RunResult = await app.call(i, { onConsole: (level, text) => lines.push(`${level} ${text}`) });
        calls.push({
          result: result.ok
            ? { ok: true, value: result.value }
            : { ok: false, code: result.error.code, message: result.error.message },
          lines,
          warnings: [...warnings],
        });
      }
      const stored = await store.call(false);
      return { calls, stored: stored.ok ? stored.value : stored.error.message };
    } finally {
      await app.close();
      await store.close();
    }
  }

  for (const [name, source] of Object.entries(CASES)) {
    test(name, async () => {
      const synchronous = await observe(source, 100);
      const asynchronous = await observe(source, 150);
      assert.deepEqual(synchronous, asynchronous);
    });
  }

  /** Three fetches of a fresh app under a CPU budget: each response (or error) and console lines. */
  async function observeFetch(source: string, cpuTimeMs: number): Promise<unknown[]> {
    const app = await runtime.load(source, { instances: 1, limits: { cpuTimeMs }, env: { region: "test" } });
    const seen: unknown[] = [];
    try {
      for (let i = 1; i <= 3; i++) {
        const lines: string[] = [];
        const request = new Request(`http://app.test/path/${i}?q=${i}`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-n": String(i) },
          body: JSON.stringify({ i }),
        });
        try {
          const response = await app.fetch(request, { onConsole: (level, text) => lines.push(`${level} ${text}`) });
          seen.push({
            status: response.status,
            statusText: response.statusText,
            headers: [...response.headers],
            body: await response.text(),
            lines,
          });
        } catch (error) {
          seen.push({ error: (error as { code?: string }).code, message: (error as Error).message, lines });
        }
      }
      // What waitUntil's promises did after their calls answered.
      await new Promise((resolve) => setTimeout(resolve, 50));
      return seen;
    } finally {
      await app.close();
    }
  }

  for (const [name, source] of Object.entries(FETCH_CASES)) {
    test(`fetch: ${name}`, async () => {
      const synchronous = await observeFetch(source, 100);
      const asynchronous = await observeFetch(source, 150);
      assert.deepEqual(synchronous, asynchronous);
    });
  }
});
