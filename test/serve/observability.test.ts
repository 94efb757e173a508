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
