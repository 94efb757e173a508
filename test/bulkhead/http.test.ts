import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, request as httpRequest, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { bulkheadHandler, bulkheadMiddleware, renderBulkheadError, type Bulkhead } from "../../src/bulkhead/index.js";
import { OverloadError, QueueTimeoutError } from "../../src/errors/index.js";
import { closeBulkheads, deferred, makeBulkhead, sleep, type Deferred } from "./helpers.js";

const servers = new Set<Server>();

afterEach(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  servers.clear();
  await closeBulkheads();
});

async function listen(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  servers.add(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function get(url: string, user: string): Promise<Response> {
  return fetch(url, { headers: { "x-user": user } });
}

/** Waits until the bulkhead shows the expected counts (the HTTP round trips are asynchronous). */
async function until(bulkhead: Bulkhead, check: (stats: ReturnType<Bulkhead["stats"]>) => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check(bulkhead.stats())) return;
    await sleep(5);
  }
  assert.fail(`timed out waiting; stats: ${JSON.stringify(bulkhead.stats())}`);
}

test("renderBulkheadError maps 429 and 408 and nothing else", () => {
  const overload = renderBulkheadError(new OverloadError({ scope: "global", retryAfter: 7, queued: 5, capacity: 5 }));
  assert.deepEqual(overload, {
    status: 429,
    headers: { "retry-after": "7" },
    body: {
      status: 429,
      error: "too_many_requests",
      message: "Global queue full (5/5). System is overloaded.",
      retry_after: 7,
    },
  });
  const timeout = renderBulkheadError(new QueueTimeoutError(50, 51));
  assert.deepEqual(timeout?.body, {
    status: 408,
    error: "request_timeout",
    message: "request waited in queue longer than 50ms (waited 51ms)",
  });
  assert.equal(renderBulkheadError(new Error("other")), undefined);
});

describe("node http: bulkheadHandler", () => {
  function gatedServer(bulkhead: Bulkhead, gates: Deferred[], onError?: (error: unknown) => void) {
    return listen(
      bulkheadHandler(
        {
          bulkhead,
          userId: (req) => String(req.headers["x-user"] ?? "anonymous"),
          ...(onError ? { onError } : {}),
        },
        async (req, res) => {
          if (req.url === "/throw") throw new Error("secret internals");
          const gate = deferred();
          gates.push(gate);
          await gate.promise;
          res.end("ok");
        },
      ),
    );
  }

  test("a full queue answers 429 with Retry-After and the JSON body; the queue drains after", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, maxQueuePerUser: 1 });
    const gates: Deferred[] = [];
    const url = await gatedServer(bulkhead, gates);
    const first = get(url, "alice");
    await until(bulkhead, (s) => s.globalConcurrent === 1);
    const second = get(url, "alice");
    await until(bulkhead, (s) => s.globalQueued === 1);
    const third = await get(url, "alice");
    assert.equal(third.status, 429);
    assert.equal(third.headers.get("retry-after"), "5");
    assert.match(third.headers.get("content-type")!, /application\/json/);
    assert.deepEqual(await third.json(), {
      status: 429,
      error: "too_many_requests",
      message: "User queue full (1/1). Too many concurrent requests.",
      retry_after: 5,
    });
    const other = get(url, "bob"); // another user is not affected
    await until(bulkhead, (s) => s.globalConcurrent === 2);
    gates[0]!.resolve();
    assert.equal((await first).status, 200);
    await until(bulkhead, () => gates.length === 3);
    for (const gate of gates) gate.resolve();
    assert.equal(await (await second).text(), "ok");
    assert.equal((await other).status, 200);
    await until(bulkhead, (s) => s.activeRequests === 0);
  });

  test("a queue timeout answers 408 with the JSON body", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, queueTimeoutMs: 50 });
    const gates: Deferred[] = [];
    const url = await gatedServer(bulkhead, gates);
    const first = get(url, "alice");
    await until(bulkhead, (s) => s.globalConcurrent === 1);
    const second = await get(url, "alice");
    assert.equal(second.status, 408);
    const body = (await second.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ["status", "error", "message"]);
    assert.equal(body["error"], "request_timeout");
    assert.match(String(body["message"]), /longer than 50ms/);
    gates[0]!.resolve();
    await first;
  });

  test("a client that goes away while queued leaves the queue; one that goes away while running frees its slot", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1 });
    const gates: Deferred[] = [];
    const url = new URL(await gatedServer(bulkhead, gates));
    const open = () => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: "/", headers: { "x-user": "alice" } });
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
    assert.equal(gates.length, 1, "the handler never ran for the client that left");
    running.destroy();
    await until(bulkhead, (s) => s.globalConcurrent === 0);
    gates[0]!.resolve(); // the handler finishes later; its slot is already back
  });

  test("a handler error answers a bare 500 without internals and frees the slot", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1 });
    const seen: unknown[] = [];
    const url = await gatedServer(bulkhead, [], (error) => seen.push(error));
    const response = await get(`${url}/throw`, "alice");
    assert.equal(response.status, 500);
    const text = await response.text();
    assert.doesNotMatch(text, /secret/);
    assert.equal((seen[0] as Error).message, "secret internals");
    await until(bulkhead, (s) => s.activeRequests === 0);
  });
});

describe("express: bulkheadMiddleware", () => {
  test("429 with Retry-After, 408, slots held until the response finishes, errors to the error handler", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, maxQueuePerUser: 1, queueTimeoutMs: 80 });
    const gates: Deferred[] = [];
    const app = express();
    app.use(
      bulkheadMiddleware({
        bulkhead,
        userId: (req) => {
          const user = req.get("x-user");
          if (user === undefined) throw new Error("no user");
          return user;
        },
      }),
    );
    app.get("/", async (_req, res) => {
      const gate = deferred();
      gates.push(gate);
      await gate.promise;
      res.send("ok");
    });
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(400).json({ error: error.message });
    });
    const url = await listen(app);

    const first = get(url, "alice");
    await until(bulkhead, (s) => s.globalConcurrent === 1);
    const second = get(url, "alice");
    await until(bulkhead, (s) => s.globalQueued === 1);
    const rejected = await get(url, "alice");
    assert.equal(rejected.status, 429);
    assert.ok(Number(rejected.headers.get("retry-after")) >= 1);
    const body = (await rejected.json()) as Record<string, unknown>;
    assert.equal(body["error"], "too_many_requests");
    assert.equal(body["retry_after"], Number(rejected.headers.get("retry-after")));

    assert.equal((await second).status, 408, "the queued one times out while the first holds the slot");
    gates[0]!.resolve();
    assert.equal(await (await first).text(), "ok");
    await until(bulkhead, (s) => s.activeRequests === 0);

    const anonymous = await fetch(url);
    assert.equal(anonymous.status, 400);
    assert.deepEqual(await anonymous.json(), { error: "no user" });
  });
});
