import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { join } from "node:path";
import { appsDir, bodyOf, withServer } from "./helpers.js";

const dir = appsDir({
  "spin.js": `export default { fetch(request) { if (new URL(request.url).searchParams.has("loop")) for (;;) {} return new Response("ok"); } };`,
  "bomb.js": `export default { fetch(request) {
    if (new URL(request.url).searchParams.has("bomb")) { const keep = []; for (;;) keep.push(new Array(100000).fill(keep.length)); }
    return new Response("fine");
  } };`,
  "other.js": `export default () => "other app";`,
  "log.js": `export default { fetch() { console.log("hello from the guest"); return new Response("logged"); } };`,
});

describe("warden serve: per-request limits", () => {
  test("serve defaults: CPU 50ms, memory 128MB, wall clock 30s; the rest from the profile", async () => {
    await withServer({ path: dir, serveDefaults: true }, async (server) => {
      assert.equal(server.limits.values.cpuTimeMs, 50);
      assert.equal(server.limits.values.memoryBytes, 128_000_000);
      assert.equal(server.limits.values.timeoutMs, 30_000);
      assert.equal(server.limits.values.maxInstructions, 10_000_000);
    });
    // Without an instruction cap, an endless loop meets the 50 ms CPU default.
    const options = { maxInstructions: -1 };
    await withServer({ path: dir, serveDefaults: true, limits: { options } }, async (server) => {
      const response = await fetch(`${server.url}/spin?loop`);
      assert.equal(response.status, 503);
      assert.equal(((await bodyOf(response)) as Record<string, unknown>)["message"], "CPU time limit exceeded (50ms)");
    });
    // An explicit value wins over the serve default.
    await withServer({ path: dir, limits: { options: { cpuTimeMs: "200ms" } } }, async (server) => {
      assert.equal(server.limits.values.cpuTimeMs, 200);
    });
  });

  test("an endless loop answers with its limit's status and JSON; the next request and other apps work", async () => {
    // No instruction cap, so that the CPU budget speaks.
    await withServer(
      { path: dir, limits: { options: { maxInstructions: -1, cpuTimeMs: "100ms" } } },
      async (server, logs) => {
        const response = await fetch(`${server.url}/spin?loop`, { headers: { "x-request-id": "loop-1" } });
        assert.equal(response.status, 503);
        const body = (await bodyOf(response)) as Record<string, unknown>;
        assert.deepEqual(
          { status: body["status"], error: body["error"], message: body["message"], limit: body["limit"] },
          { status: 503, error: "WARDEN_LIMIT_CPU", message: "CPU time limit exceeded (100ms)", limit: "cpu" },
        );
        assert.equal(await (await fetch(`${server.url}/spin`)).text(), "ok");
        assert.equal(await (await fetch(`${server.url}/other`)).text(), "other app");
        const line = logs.messages("request").find((l) => l["requestId"] === "loop-1");
        assert.equal(line?.["limit"], "cpu");
        assert.equal(line?.["app"], "spin");
        assert.ok(logs.messages("instance recycled").some((l) => l["requestId"] === "loop-1"));
      },
    );
  });

  test("the instruction budget and per-app overrides from the config file", async () => {
    const config = appsDir({
      "warden.config.json": JSON.stringify({ serve: { apps: { spin: { limits: { maxInstructions: 5000 } } } } }),
    });
    await withServer({ path: dir, configFile: join(config, "warden.config.json") }, async (server) => {
      const response = await fetch(`${server.url}/spin?loop`);
      assert.equal(response.status, 503);
      assert.equal(
        ((await bodyOf(response)) as Record<string, unknown>)["message"],
        "instruction limit exceeded (5000)",
      );
      assert.equal(await (await fetch(`${server.url}/spin`)).text(), "ok");
    });
  });

  test("a memory bomb costs its own request (5xx naming the app and request in the log); the server keeps answering", async () => {
    await withServer(
      { path: dir, limits: { options: { memoryBytes: "32MB", maxInstructions: -1, cpuTimeMs: "5s" } } },
      async (server, logs) => {
        const response = await fetch(`${server.url}/bomb?bomb`, { headers: { "x-request-id": "bomb-1" } });
        assert.ok(response.status >= 500 && response.status < 600, `status ${response.status}`);
        const body = (await bodyOf(response)) as Record<string, unknown>;
        assert.equal(body["status"], response.status);
        assert.equal(await (await fetch(`${server.url}/bomb`)).text(), "fine");
        assert.equal(await (await fetch(`${server.url}/other`)).text(), "other app");
        const line = logs.messages("request").find((l) => l["requestId"] === "bomb-1");
        assert.equal(line?.["app"], "bomb");
        assert.equal(line?.["status"], response.status);
      },
    );
  });

  test("guest console lines are JSON log lines with the app and request id", async () => {
    // One instance under a CPU budget of 100 ms: the first request is its first call; the later
    // ones are made synchronously in the sandbox process (docs/engines.md), whose console lines
    // must come all the same.
    await withServer({ path: dir, limits: { options: { cpuTimeMs: "100ms" } } }, async (server, logs) => {
      for (let i = 1; i <= 3; i++) {
        await (await fetch(`${server.url}/log`, { headers: { "x-request-id": `log-${i}` } })).text();
        const line = logs.messages("console").find((l) => l["requestId"] === `log-${i}`);
        assert.equal(line?.["app"], "log", `request ${i}`);
        assert.equal(line?.["text"], "hello from the guest");
      }
    });
  });
});

describe("warden serve: crash isolation", () => {
  test("a fatal V8 out-of-memory costs at most the requests in its sandbox process; the server keeps answering", async () => {
    const apps = appsDir({
      // A string doubled until one allocation is larger than the heap has left: a fatal V8
      // out-of-memory, which ends the sandbox process (see test/conformance/hostile.test.ts).
      "crash.js": `export default () => { let s = "xxxxxxxxxxxxxxxx"; for (;;) { s = s + s; s.charCodeAt(s.length - 1); } };`,
      "slow.js": `export default { async fetch() { await new Promise((r) => setTimeout(r, 300)); return new Response("slow done"); } };`,
    });
    await withServer(
      {
        path: apps,
        engine: "v8",
        poolSize: 1,
        limits: { options: { memoryBytes: "32MB", maxInstructions: -1, cpuTimeMs: "5s" } },
      },
      async (server, logs) => {
        const bystander = fetch(`${server.url}/slow`);
        await new Promise((r) => setTimeout(r, 50));
        const crash = await fetch(`${server.url}/crash`, { headers: { "x-request-id": "crash-1" } });
        assert.ok(crash.status >= 500 && crash.status < 600, `status ${crash.status}`);
        await crash.text();
        // The bystander shared the sandbox process: it is answered, with its result or a 5xx.
        const other = await bystander;
        assert.ok(other.status === 200 || other.status >= 500, `bystander status ${other.status}`);
        await other.text();
        assert.equal(await (await fetch(`${server.url}/slow`)).text(), "slow done");
        const again = await fetch(`${server.url}/crash`);
        assert.ok(again.status >= 500);
        await again.text();
        const line = logs.messages("request").find((l) => l["requestId"] === "crash-1");
        assert.equal(line?.["app"], "crash");
        assert.equal(line?.["level"], "warn");
      },
    );
  });
});
