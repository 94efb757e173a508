import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { describe, test } from "node:test";
import { appsDir, bodyOf, untilMetric, withServer } from "./helpers.js";

const dir = appsDir({
  "echo.js": `export default { async fetch(request) { return new Response("got " + (await request.text()).length); } };`,
  "slow.js": `export default { async fetch() { await new Promise((r) => setTimeout(r, 400)); return new Response("slow done"); } };`,
});

function open(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.once("error", reject);
  });
}

function readAll(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", () => resolve(text));
    socket.on("close", () => resolve(text));
  });
}

describe("warden serve: the front door", () => {
  test("a connection over maxConnections gets a real 503 naming the cap, then is closed", async () => {
    await withServer({ path: dir, limits: { options: { maxConnections: 2 } } }, async (server, logs) => {
      const held = [await open(server.url), await open(server.url)];
      try {
        // Once the server counts the held connections, one more.
        await untilMetric(server.adminUrl, "warden_http_open_connections", (n) => n === 2);
        const extra = await open(server.url);
        const answer = readAll(extra);
        extra.write("GET /echo HTTP/1.1\r\nhost: x\r\n\r\n");
        const text = await answer;
        assert.match(text, /^HTTP\/1\.1 503 /);
        assert.match(text, /HTTP server capacity exceeded \(2 connections\)/);
        assert.ok(logs.lines.some((l) => l["limit"] === "connections"));
        const metrics = await (await fetch(`${server.adminUrl}/metrics`)).text();
        assert.match(metrics, /^warden_http_rejections_total\{status="503"\} 1$/m);
        assert.match(metrics, /^warden_http_open_connections 2$/m);
        // The held connections still work.
        const reply = readAll(held[0]!);
        held[0]!.write("GET /echo HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        assert.match(await reply, /^HTTP\/1\.1 200 [\s\S]*got 0$/);
      } finally {
        for (const socket of held) socket.destroy();
      }
    });
  });

  test("a body over maxValueBytes is 413, whether declared or streamed, before it reaches a sandbox", async () => {
    await withServer({ path: dir, limits: { options: { maxValueBytes: "1KB" } } }, async (server) => {
      const ok = await fetch(`${server.url}/echo`, { method: "POST", body: "x".repeat(1000) });
      assert.equal(await ok.text(), "got 1000");
      const declared = await fetch(`${server.url}/echo`, { method: "POST", body: "x".repeat(1001) });
      assert.equal(declared.status, 413);
      const body = (await bodyOf(declared)) as Record<string, unknown>;
      assert.equal(body["error"], "WARDEN_LIMIT_VALUE_SIZE");
      assert.equal(body["message"], "value size exceeds maximum (1KB)");
      // Chunked: no content-length, counted while it streams.
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 5; i++) controller.enqueue(new Uint8Array(400));
          controller.close();
        },
      });
      const streamed = await fetch(`${server.url}/echo`, {
        method: "POST",
        body: stream,
        duplex: "half",
      } as RequestInit);
      assert.equal(streamed.status, 413);
      await streamed.text();
    });
  });

  test("the bulkhead: a full queue answers 429 with Retry-After; a long wait 408", async () => {
    await withServer(
      { path: dir, instances: 2, bulkhead: { maxConcurrentPerUser: 1, maxQueuePerUser: 0 } },
      async (server, logs) => {
        const [first, second] = await Promise.all([fetch(`${server.url}/slow`), fetch(`${server.url}/slow`)]);
        const statuses = [first.status, second.status].sort();
        assert.deepEqual(statuses, [200, 429]);
        const rejected = first.status === 429 ? first : second;
        assert.match(rejected.headers.get("retry-after") ?? "", /^\d+$/);
        assert.equal(((await bodyOf(rejected)) as Record<string, unknown>)["error"], "too_many_requests");
        await first.arrayBuffer().catch(() => {});
        await second.arrayBuffer().catch(() => {});
        assert.ok(logs.messages("request").some((l) => l["status"] === 429 && typeof l["user"] === "string"));
      },
    );
    await withServer(
      { path: dir, instances: 2, bulkhead: { maxConcurrentPerUser: 1, maxQueuePerUser: 1, queueTimeoutMs: 50 } },
      async (server) => {
        const [first, second] = await Promise.all([fetch(`${server.url}/slow`), fetch(`${server.url}/slow`)]);
        assert.deepEqual([first.status, second.status].sort(), [200, 408]);
        await first.arrayBuffer();
        await second.arrayBuffer();
      },
    );
  });

  test("a client that goes away: a running call ends normally and keeps its instance, a waiting one is given up", async () => {
    const counting = appsDir({
      "count.js": `let count = 0;
export default { async fetch(request) {
  count++;
  if (new URL(request.url).pathname === "/slow") await new Promise((r) => setTimeout(r, 300));
  return new Response(String(count));
} };`,
    });
    await withServer({ path: counting, instances: 1 }, async (server, logs) => {
      assert.equal(await (await fetch(`${server.url}/count/`)).text(), "1");
      // Two slow requests on one instance: the first runs, the second waits for the instance;
      // both clients give up while the first runs.
      const gone = await Promise.allSettled([
        fetch(`${server.url}/count/slow`, { signal: AbortSignal.timeout(100) }),
        fetch(`${server.url}/count/slow`, { signal: AbortSignal.timeout(100) }),
      ]);
      assert.deepEqual(
        gone.map((r) => r.status),
        ["rejected", "rejected"],
      );
      const ended = () => logs.messages("request").filter((l) => l["path"] === "/count/slow");
      while (ended().length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
      // The running call ran to its end on the same instance: its module state goes on (count 2
      // was the slow request that ran; the waiting one never did). Stopping it would have cost
      // the instance, and the count would start again at 1.
      assert.equal(await (await fetch(`${server.url}/count/`)).text(), "3");
      assert.equal(logs.messages("instance recycled").length, 0);
      assert.deepEqual(
        ended()
          .map((l) => [l["status"], l["errorMessage"]])
          .sort(),
        [
          [499, "the call was aborted while it waited for an instance"],
          [499, "the client went away"],
        ],
      );
    });
  });

  test("--user-from header:NAME gives each key its own bulkhead slots", async () => {
    await withServer(
      {
        path: dir,
        instances: 2,
        userFrom: "header:x-api-key",
        bulkhead: { maxConcurrentPerUser: 1, maxQueuePerUser: 0 },
      },
      async (server) => {
        const [a, b] = await Promise.all([
          fetch(`${server.url}/slow`, { headers: { "x-api-key": "alice" } }),
          fetch(`${server.url}/slow`, { headers: { "x-api-key": "bob" } }),
        ]);
        assert.deepEqual([a.status, b.status], [200, 200]);
        await a.text();
        await b.text();
      },
    );
  });
});

describe("warden serve: slow clients", () => {
  test("a client that sends its headers too slowly gets 408 and is closed; others are unaffected", async () => {
    await withServer({ path: dir, headersTimeoutMs: 300, requestTimeoutMs: 1_000 }, async (server) => {
      const slow = await open(server.url);
      const answer = readAll(slow);
      slow.write("GET /echo HTTP/1.1\r\nhost: x\r\n"); // and never the blank line
      const fast = await fetch(`${server.url}/echo`);
      assert.equal(await fast.text(), "got 0");
      assert.match(await answer, /^HTTP\/1\.1 408 /);
    });
  });
});
