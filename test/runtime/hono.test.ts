import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { buildSync } from "esbuild";
import type { LoadedApp, LoadOptions, Runtime } from "../../src/index.js";
import { TEST_ENGINES, testRuntime } from "../helpers/runtime.js";

/**
 * A real Workers router in a warm sandbox: the Hono app of `test/fixtures/hono-app.ts`, bundled
 * into one ES module by esbuild (`buildSync`: no esbuild service is left running), loaded with
 * `runtime.load` and served through `app.fetch` with the host's standard Request and Response.
 */
const BUNDLE = (() => {
  const result = buildSync({
    entryPoints: [fileURLToPath(new URL("../fixtures/hono-app.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "neutral",
    write: false,
    logLevel: "silent",
  });
  const [output] = result.outputFiles;
  assert.ok(output, "esbuild produced no bundle");
  return output.text;
})();

const ORIGIN = "http://app.local";
const TEXT_PLAIN = /^text\/plain; ?charset=UTF-8$/i;

async function withApp(
  engine: (typeof TEST_ENGINES)[number],
  options: LoadOptions,
  body: (app: LoadedApp, runtime: Runtime) => Promise<void>,
): Promise<void> {
  const runtime = await testRuntime(engine);
  try {
    const app = await runtime.load(BUNDLE, { filename: "hono-app.js", env: { GREETING: "Hello" }, ...options });
    await body(app, runtime);
  } finally {
    await runtime.close();
  }
}

/** Fetches a path of the app and reads the whole response. */
async function get(app: LoadedApp, path: string, init?: RequestInit) {
  const response = await app.fetch(new Request(ORIGIN + path, init));
  return { response, status: response.status, headers: response.headers, text: await response.text() };
}

for (const engine of TEST_ENGINES) {
  describe(`Hono app through app.fetch [${engine}]`, () => {
    test("routes: text with env, path params, query, JSON echo, headers both ways, middleware", async () => {
      await withApp(engine, { instances: 1 }, async (app) => {
        const root = await get(app, "/");
        assert.equal(root.status, 200);
        assert.match(root.headers.get("content-type") ?? "", TEXT_PLAIN);
        assert.equal(root.headers.get("x-powered-by"), "warden-hono", "the middleware ran");
        assert.equal(root.text, "Hello, world", "env reached the handler");

        const params = await get(app, "/users/42/posts/7");
        assert.equal(params.status, 200);
        assert.equal(params.headers.get("content-type"), "application/json");
        assert.deepEqual(JSON.parse(params.text), { user: "42", post: 7 });

        const query = await get(app, "/search?q=caf%C3%A9%20au%20lait&tag=a&tag=b%2Bc&limit=3");
        assert.deepEqual(JSON.parse(query.text), { q: "café au lait", tags: ["a", "b+c"], limit: 3 });
        const noQuery = await get(app, "/search");
        assert.deepEqual(JSON.parse(noQuery.text), { q: null, tags: [], limit: 10 });

        const payload = { name: "Zoë", list: [1, 2.5, null, true], nested: { emoji: "🦀" } };
        const echo = await get(app, "/echo", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(payload),
        });
        assert.equal(echo.status, 201);
        assert.equal(echo.headers.get("content-type"), "application/json");
        assert.deepEqual(JSON.parse(echo.text), { received: payload, type: "application/json" });

        const who = await get(app, "/whoami", { headers: { "user-agent": "curl/8.5" } });
        assert.equal(who.status, 200);
        assert.equal(who.text, "hello curl/8.5");
        assert.equal(who.headers.get("x-echo-agent"), "CURL/8.5");
        assert.equal(who.headers.get("cache-control"), "no-store");
        assert.match(who.headers.get("content-type") ?? "", TEXT_PLAIN);
        assert.equal(who.headers.get("x-powered-by"), "warden-hono");
        const anonymous = await get(app, "/whoami");
        assert.equal(anonymous.status, 400);
        assert.equal(anonymous.text, "no user-agent");
      });
    });

    test("404, error handler, redirect, Web Crypto digest, binary request body", async () => {
      await withApp(engine, { instances: 1 }, async (app) => {
        const missing = await get(app, "/nope/deeper?x=1");
        assert.equal(missing.status, 404);
        assert.deepEqual(JSON.parse(missing.text), { error: "not found", path: "/nope/deeper" });
        assert.equal(missing.headers.get("x-powered-by"), "warden-hono");
        const wrongMethod = await get(app, "/echo");
        assert.equal(wrongMethod.status, 404, "GET on a POST-only route");

        const boom = await get(app, "/boom");
        assert.equal(boom.status, 500);
        assert.deepEqual(JSON.parse(boom.text), { error: "boom" });

        const redirect = await get(app, "/redirect");
        assert.equal(redirect.status, 302);
        assert.equal(redirect.headers.get("location"), "/users/1/posts/2");

        const digest = await get(app, "/digest/abc");
        assert.equal(digest.text, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

        const bytes = new Uint8Array(3000).map((_, i) => (i * 7) & 255);
        const size = await get(app, "/size", { method: "POST", body: bytes });
        assert.deepEqual(JSON.parse(size.text), { bytes: 3000 });
        assert.equal(app.stats().recycled, 0, "no answer so far recycled an instance");
      });
    });

    test("module state persists between requests; timers work; ctx.waitUntil work finishes with its call", async () => {
      await withApp(engine, { instances: 1 }, async (app) => {
        const hits: string[] = [];
        for (let i = 0; i < 3; i++) hits.push((await get(app, "/")).headers.get("x-hits") ?? "");
        assert.deepEqual(hits, ["1", "2", "3"]);
        assert.equal((await get(app, "/later")).text, "scheduled");
        assert.equal((await get(app, "/later")).text, "scheduled");
        assert.deepEqual(JSON.parse((await get(app, "/background")).text), { background: 2 });
        assert.deepEqual(JSON.parse((await get(app, "/sleep/15")).text), { slept: true });
        assert.deepEqual(app.stats(), { instances: 1, busy: 0, queued: 0, calls: 7, loads: 1, recycled: 0 });
      });
    });

    test("bodies over maxValueBytes reject with WARDEN_LIMIT_VALUE_SIZE", async () => {
      await withApp(engine, { instances: 1, limits: { maxValueBytes: 4096 } }, async (app) => {
        // The request body is read on the host, under the cap, before any instance is taken.
        await assert.rejects(
          app.fetch(new Request(`${ORIGIN}/size`, { method: "POST", body: new Uint8Array(5000) })),
          (error: Error & { code?: string }) => {
            assert.equal(error.code, "WARDEN_LIMIT_VALUE_SIZE");
            return true;
          },
        );
        await assert.rejects(
          app.fetch(
            new Request(`${ORIGIN}/echo`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ pad: "y".repeat(5000) }),
            }),
          ),
          { code: "WARDEN_LIMIT_VALUE_SIZE" },
        );
        // A per-call override tightens the cap for one request.
        await assert.rejects(
          app.fetch(new Request(`${ORIGIN}/size`, { method: "POST", body: new Uint8Array(200) }), {
            limits: { maxValueBytes: 100 },
          }),
          { code: "WARDEN_LIMIT_VALUE_SIZE" },
        );
        assert.deepEqual(JSON.parse((await get(app, "/size", { method: "POST", body: new Uint8Array(4000) })).text), {
          bytes: 4000,
        });
        // A response body over the cap is stopped in the sandbox and its instance recycled.
        await assert.rejects(app.fetch(new Request(`${ORIGIN}/big/5000`)), { code: "WARDEN_LIMIT_VALUE_SIZE" });
        assert.equal((await get(app, "/big/4000")).text.length, 4000);
        const stats = app.stats();
        assert.equal(stats.recycled, 1, "only the oversized response recycled its instance");
        assert.equal(stats.loads, 2);
      });
    });

    test("bodies of exactly maxValueBytes pass both ways; the cap is on the bytes, not their encoding", async () => {
      await withApp(engine, { instances: 1, limits: { maxValueBytes: 4096 } }, async (app) => {
        assert.equal((await get(app, "/big/4096")).text.length, 4096);
        const size = await get(app, "/size", { method: "POST", body: new Uint8Array(4096) });
        assert.deepEqual(JSON.parse(size.text), { bytes: 4096 });
        await assert.rejects(app.fetch(new Request(`${ORIGIN}/big/4097`)), { code: "WARDEN_LIMIT_VALUE_SIZE" });
        assert.equal((await get(app, "/big/10")).text, "x".repeat(10), "a fresh instance serves the next request");
      });
    });

    test("requests in flight share the app's instances, first come first served", async () => {
      await withApp(engine, { instances: 2 }, async (app) => {
        const answers = await Promise.all(
          Array.from({ length: 24 }, async (_, i) => JSON.parse((await get(app, `/users/${i}/posts/${i * 2}`)).text)),
        );
        answers.forEach((answer, i) => assert.deepEqual(answer, { user: String(i), post: i * 2 }));
        const stats = app.stats();
        assert.equal(stats.calls, 24);
        assert.ok(stats.loads <= 2, `at most 2 instances were loaded (got ${stats.loads})`);
      });
    });
  });
}
