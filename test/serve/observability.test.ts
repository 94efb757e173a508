import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { appsDir, withServer } from "./helpers.js";

const dir = appsDir({
  "hello.js": `export default () => "hello";`,
  "spin.js": `export default () => { for (;;) {} };`,
  "busy.js": `export default () => { let n = 0; for (let i = 0; i < 9500; i++) n += i; return String(n); };`,
});

/** Parses Prometheus text into `name{labels}` -> value. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(match, `not a metrics line: ${line}`);
    out.set(match[1]!, Number(match[2]));
  }
  return out;
}

describe("warden serve: logs and metrics", () => {
  test("/metrics on the admin port parses and moves with traffic; /health and /ready; never on the app port", async () => {
    await withServer({ path: dir, limits: { options: { maxInstructions: 1000 } } }, async (server) => {
      assert.match(server.adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      const before = parseMetrics(await (await fetch(`${server.adminUrl}/metrics`)).text());
      assert.equal(before.get('warden_http_requests_total{app="hello",status="200"}') ?? 0, 0);
      assert.ok(before.has("warden_http_open_connections"));
      assert.ok(before.has("warden_bulkhead_queued"));
      assert.ok([...before.keys()].some((k) => k.startsWith("process_cpu")));
      for (let i = 0; i < 3; i++) await (await fetch(`${server.url}/hello`)).text();
      await (await fetch(`${server.url}/spin`)).text();
      const after = parseMetrics(await (await fetch(`${server.adminUrl}/metrics`)).text());
      assert.equal(after.get('warden_http_requests_total{app="hello",status="200"}'), 3);
      assert.equal(after.get('warden_http_requests_total{app="spin",status="503"}'), 1);
      assert.equal(after.get('warden_limit_hits_total{app="spin",kind="instructions"}'), 1);
      assert.equal(after.get('warden_http_request_duration_seconds_count{app="hello"}'), 3);
      assert.equal((await fetch(`${server.url}/metrics`)).status, 404);
      assert.equal((await fetch(`${server.adminUrl}/health`)).status, 200);
      assert.equal((await fetch(`${server.adminUrl}/ready`)).status, 200);
    });
  });

  test("/metrics: the busiest users' bulkhead gauges, sandbox memory per app, datastore bytes per namespace", async () => {
    const notes = appsDir({
      "notes.js": `export default async (request) => {
        await datastore("notes").set(request.headers.get("x-user"), "x".repeat(100));
        return "ok";
      };`,
    });
    await withServer({ path: notes, datastore: "memory:", userFrom: "header:x-user" }, async (server) => {
      const before = parseMetrics(await (await fetch(`${server.adminUrl}/metrics`)).text());
      assert.ok(![...before.keys()].some((k) => k.startsWith("warden_bulkhead_user_")));
      // Twelve users: the per-user gauges keep the ten busiest (here: the most recently active).
      const users = [...Array.from({ length: 10 }, (_, i) => `u${i}`), "alice", "bob", "alice"];
      for (const user of users) {
        const res = await fetch(`${server.url}/notes`, { headers: { "x-user": user } });
        assert.equal(res.status, 200);
        await res.text();
      }
      // Per distinct user, its key's bytes and the value's JSON text (102 bytes).
      const bytes = [...new Set(users)].reduce((sum, user) => sum + user.length + 102, 0);
      const deadline = Date.now() + 30_000;
      let after = parseMetrics(await (await fetch(`${server.adminUrl}/metrics`)).text());
      // The namespace's bytes are read at the dashboard's ticks (every 2 s at most), maybe while
      // the requests were still writing: poll until a read saw all of them.
      while (after.get('warden_datastore_bytes{namespace="notes"}') !== bytes) {
        assert.ok(Date.now() < deadline, "timed out waiting for warden_datastore_bytes");
        await new Promise((resolve) => setTimeout(resolve, 50));
        after = parseMetrics(await (await fetch(`${server.adminUrl}/metrics`)).text());
      }
      for (const user of ["x-user:alice", "x-user:bob"]) {
        assert.equal(after.get(`warden_bulkhead_user_running{user="${user}"}`), 0);
        assert.equal(after.get(`warden_bulkhead_user_queued{user="${user}"}`), 0);
      }
      for (const name of ["warden_bulkhead_user_running", "warden_bulkhead_user_queued"])
        assert.equal([...after.keys()].filter((k) => k.startsWith(`${name}{`)).length, 10, name);
      assert.ok((after.get('warden_sandbox_memory_bytes{app="notes"}') ?? 0) > 0);
    });
  });

  test("one JSON line per request with the request id, app, method, path, status, duration and user", async () => {
    await withServer({ path: dir }, async (server, logs) => {
      await (await fetch(`${server.url}/hello/x?q=1`, { headers: { "x-request-id": "abc-1" } })).text();
      const listening = logs.messages("listening")[0]!;
      assert.equal(listening["url"], server.url);
      assert.equal(listening["adminUrl"], server.adminUrl);
      assert.ok(logs.messages("app loaded").some((l) => l["app"] === "hello"));
      const line = logs.messages("request").find((l) => l["requestId"] === "abc-1")!;
      assert.equal(line["level"], "info");
      assert.equal(typeof line["time"], "string");
      assert.equal(line["app"], "hello");
      assert.equal(line["method"], "GET");
      assert.equal(line["path"], "/hello/x");
      assert.equal(line["status"], 200);
      assert.equal(typeof line["durationMs"], "number");
      // A number once the runtime reports a call's usage; null until then.
      assert.ok(line["cpuMs"] === null || typeof line["cpuMs"] === "number");
      assert.ok("memoryBytes" in line);
      assert.match(String(line["user"]), /^ip:/);
    });
  });

  test("a request that crosses warnAt of a budget logs a budget warning naming the app", async () => {
    await withServer(
      { path: dir, limits: { options: { maxInstructions: 10_000, warnAt: 0.9 } } },
      async (server, logs) => {
        assert.equal((await fetch(`${server.url}/busy`)).status, 200);
        const warning = logs.messages("budget warning").find((l) => l["app"] === "busy");
        assert.equal(warning?.["budget"], "instructions");
        assert.equal(warning?.["level"], "warn");
      },
    );
  });
});
