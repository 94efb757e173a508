import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { checkAllowFetch } from "../../src/index.js";
import { TEST_ENGINES, testRuntime, value } from "../helpers/runtime.js";

/** A loopback server the guests fetch from: echoes, a big body, a redirect out of the allowlist. */
let server: Server;
let origin: string;
let hits = 0;

before(async () => {
  server = createServer((request, response) => {
    hits++;
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      if (request.url === "/big") return void response.end("x".repeat(5000));
      if (request.url === "/redirect") {
        response.writeHead(302, { location: "http://example.invalid/" });
        return void response.end();
      }
      response.setHeader("x-method", request.method ?? "");
      response.end(JSON.stringify({ url: request.url, body, type: request.headers["content-type"] ?? null }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

for (const engine of TEST_ENGINES) {
  describe(`fetch() [${engine}]`, () => {
    test("off by default, with an error that says so", async () => {
      const runtime = await testRuntime(engine);
      try {
        const before = hits;
        assert.match(
          String(await value(runtime, `export default () => fetch("${origin}/").catch((e) => e.message)`)),
          /fetch\(\) is off in this sandbox/,
        );
        assert.equal(hits, before, "no request left the host");
      } finally {
        await runtime.close();
      }
    });

    test("allowed origins: method, body, headers and status both ways; others refused; redirects not followed", async () => {
      const runtime = await testRuntime(engine, { allowFetch: [origin] });
      try {
        const echoed = await value(
          runtime,
          `export default async () => {
            const r = await fetch("${origin}/path?q=1", { method: "POST", body: JSON.stringify({ a: 1 }), headers: { "content-type": "application/json" } });
            return [r.status, r.ok, r.headers.get("x-method"), await r.json()];
          }`,
        );
        assert.deepEqual(echoed, [200, true, "POST", { url: "/path?q=1", body: '{"a":1}', type: "application/json" }]);
        assert.match(
          String(await value(runtime, `export default () => fetch("http://example.invalid/").catch((e) => e.message)`)),
          /fetch\(\) to http:\/\/example\.invalid is not allowed here \(allowed: http:\/\/127\.0\.0\.1:\d+\)/,
        );
        assert.deepEqual(
          await value(
            runtime,
            `export default async () => { const r = await fetch("${origin}/redirect"); return [r.status, r.headers.get("location")] }`,
          ),
          [302, "http://example.invalid/"],
        );
      } finally {
        await runtime.close();
      }
    });

    test("each request counts against maxSubrequests; response bodies against maxValueBytes", async () => {
      const runtime = await testRuntime(engine, { allowFetch: ["*"] });
      try {
        const many = await runtime.run(
          `export default async () => { for (let i = 0; i < 5; i++) await fetch("${origin}/"); return "all" }`,
          { limits: { maxSubrequests: 3 } },
        );
        assert.equal(!many.ok && many.error.message, "maximum subrequests exceeded (3)");
        assert.equal(!many.ok && many.error.code, "WARDEN_LIMIT_SUBREQUESTS");
        const big = await runtime.run(`export default async () => (await fetch("${origin}/big")).text()`, {
          limits: { maxValueBytes: 1000 },
        });
        assert.equal(!big.ok && big.error.code, "WARDEN_LIMIT_VALUE_SIZE");
        assert.equal(
          await value(
            runtime,
            `export default async () => (await fetch("${origin}/big")).text().then((t) => t.length)`,
          ),
          5000,
        );
      } finally {
        await runtime.close();
      }
    });
  });
}

test("allowFetch entries are origins or *; anything else is a ConfigError naming it", () => {
  assert.deepEqual(checkAllowFetch(["https://api.example.com", "http://127.0.0.1:8080/", "*"]), [
    "https://api.example.com",
    "http://127.0.0.1:8080",
    "*",
  ]);
  assert.throws(() => checkAllowFetch(["https://api.example.com/v1"]), /https:\/\/api\.example\.com\/v1/);
  assert.throws(() => checkAllowFetch(["ftp://x"]), { code: "WARDEN_CONFIG_ERROR" });
  assert.throws(() => checkAllowFetch("https://x.com"), /a list of origins/);
});
