import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { request as httpRequest } from "node:http";
import Fastify, { type FastifyInstance } from "fastify";
import type { Bulkhead } from "../../src/bulkhead/index.js";
import { fastifyBulkhead } from "../../src/bulkhead/fastify.js";
import { closeBulkheads, deferred, makeBulkhead, sleep, type Deferred } from "./helpers.js";

const apps = new Set<FastifyInstance>();

afterEach(async () => {
  for (const app of apps) await app.close();
  apps.clear();
  await closeBulkheads();
});

async function start(bulkhead: Bulkhead, gates: Deferred[]): Promise<string> {
  const app = Fastify({ forceCloseConnections: true });
  apps.add(app);
  await app.register(fastifyBulkhead, {
    bulkhead,
    userId: (request) => {
      const user = request.headers["x-user"];
      if (typeof user !== "string") throw new Error("no user");
      return user;
    },
  });
  app.get("/", async () => {
    const gate = deferred();
    gates.push(gate);
    await gate.promise;
    return { ok: true };
  });
  app.post("/echo", async (request) => request.body);
  return app.listen({ host: "127.0.0.1", port: 0 });
}

async function until(bulkhead: Bulkhead, check: (stats: ReturnType<Bulkhead["stats"]>) => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check(bulkhead.stats())) return;
    await sleep(5);
  }
  assert.fail(`timed out waiting; stats: ${JSON.stringify(bulkhead.stats())}`);
}

const get = (url: string, user: string): Promise<Response> => fetch(url, { headers: { "x-user": user } });

test("fastify: 429 with Retry-After and the JSON body, slot freed when the response is done", async () => {
  const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, maxQueuePerUser: 1 });
  const gates: Deferred[] = [];
  const url = await start(bulkhead, gates);
  const first = get(url, "alice");
  await until(bulkhead, (s) => s.globalConcurrent === 1);
  const second = get(url, "alice");
  await until(bulkhead, (s) => s.globalQueued === 1);
  const rejected = await get(url, "alice");
  assert.equal(rejected.status, 429);
  assert.equal(rejected.headers.get("retry-after"), "5");
  assert.deepEqual(await rejected.json(), {
    status: 429,
    error: "too_many_requests",
    message: "User queue full (1/1). Too many concurrent requests.",
    retry_after: 5,
  });
  gates[0]!.resolve();
  assert.deepEqual(await (await first).json(), { ok: true });
  await until(bulkhead, () => gates.length === 2);
  gates[1]!.resolve();
  assert.equal((await second).status, 200);
  await until(bulkhead, (s) => s.activeRequests === 0);

  const echoed = await fetch(`${url}/echo`, {
    method: "POST",
    headers: { "x-user": "bob", "content-type": "application/json" },
    body: JSON.stringify({ a: 1 }),
  });
  assert.deepEqual(await echoed.json(), { a: 1 }, "bodies still reach the handler");
  await until(bulkhead, (s) => s.activeRequests === 0);
});

test("fastify: 408 after the queue timeout; a client that leaves frees its place or its slot", async () => {
  const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, queueTimeoutMs: 60 });
  const gates: Deferred[] = [];
  const url = new URL(await start(bulkhead, gates));
  const first = get(url.href, "alice");
  await until(bulkhead, (s) => s.globalConcurrent === 1);
  const timedOut = await get(url.href, "alice");
  assert.equal(timedOut.status, 408);
  const body = (await timedOut.json()) as Record<string, unknown>;
  assert.equal(body["status"], 408);
  assert.equal(body["error"], "request_timeout");
  gates[0]!.resolve();
  await first;

  const open = () => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: "/", headers: { "x-user": "bob" } });
    req.on("error", () => undefined); // destroyed on purpose
    req.end();
    return req;
  };
  const running = open();
  await until(bulkhead, (s) => s.globalConcurrent === 1);
  const queued = open();
  await until(bulkhead, (s) => s.globalQueued === 1);
  queued.destroy();
  await until(bulkhead, (s) => s.globalQueued === 0);
  running.destroy();
  await until(bulkhead, (s) => s.globalConcurrent === 0);
  for (const gate of gates) gate.resolve();
});

test("fastify: an error of the userId function is a 500 through fastify's error handler", async () => {
  const bulkhead = makeBulkhead();
  const url = await start(bulkhead, []);
  const response = await fetch(url);
  assert.equal(response.status, 500);
  assert.equal(bulkhead.stats().activeRequests, 0);
});

test('import "warden" never loads the Fastify plugin helper; "warden/fastify" does', () => {
  const script = [
    'import { createRequire } from "node:module";',
    'await import("./src/index.ts");',
    "const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/fastify-plugin/'));",
    "const core = loaded();",
    'await import("./src/bulkhead/fastify.ts");',
    "console.log(JSON.stringify({ core, subpath: loaded() }));",
  ].join("\n");
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  assert.deepEqual(JSON.parse(out.trim().split("\n").at(-1)!), { core: false, subpath: true });
});
