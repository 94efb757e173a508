import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { describe, test } from "node:test";
import { appsDir, untilMetric, withServer } from "./helpers.js";

const dir = appsDir({
  "slow.js": `export default { async fetch(request) {
    const ms = Number(new URL(request.url).searchParams.get("ms") ?? 300);
    await new Promise((r) => setTimeout(r, ms));
    return new Response("done");
  } };`,
});

/** One request on a connection of its own; resolves to the status, or "lost" when no answer came. */
function hit(url: string): Promise<number | "lost"> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { agent: false, headers: { connection: "close" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", () => resolve("lost"));
    req.end();
  });
}

describe("warden serve: drain and overload", () => {
  test("close() with requests in flight: the running one finishes, the queued ones get 503, each gets an answer", async () => {
    let statuses: (number | "lost")[] = [];
    await withServer(
      { path: dir, bulkhead: { maxConcurrentPerUser: 1, maxQueuePerUser: 10 }, drainTimeoutMs: 5_000 },
      async (server, logs) => {
        const running = hit(`${server.url}/slow?ms=500`);
        await untilMetric(server.adminUrl, "warden_runs_in_flight", (n) => n === 1);
        const queued = [hit(`${server.url}/slow?ms=10`), hit(`${server.url}/slow?ms=10`)];
        await untilMetric(server.adminUrl, "warden_bulkhead_queued", (n) => n === 2);
        const closed = server.close();
        assert.equal((await fetch(`${server.adminUrl}/ready`)).status, 503);
        await closed;
        statuses = await Promise.all([running, ...queued]);
        assert.ok(logs.messages("draining").length === 1);
        assert.ok(logs.messages("stopped").length === 1);
      },
    );
    assert.deepEqual(statuses, [200, 503, 503]);
  });

  test("a request still running at the drain timeout is aborted with a 503", async () => {
    await withServer({ path: dir, drainTimeoutMs: 100 }, async (server) => {
      const running = hit(`${server.url}/slow?ms=20000`);
      await untilMetric(server.adminUrl, "warden_runs_in_flight", (n) => n === 1);
      await server.close();
      assert.equal(await running, 503);
    });
  });

  test("a bounded overload run: every request gets 2xx, 429, 408 or 503; none is lost", async (t) => {
    await withServer(
      {
        path: dir,
        instances: 2,
        limits: { options: { maxConnections: 30 } },
        bulkhead: { maxConcurrentPerUser: 4, maxQueuePerUser: 20, queueTimeoutMs: 40 },
      },
      async (server) => {
        const counts = new Map<string, number>();
        const deadline = Date.now() + 3_000;
        const client = async (): Promise<void> => {
          while (Date.now() < deadline) {
            const status = await hit(`${server.url}/slow?ms=20`);
            const key = typeof status === "number" && status >= 200 && status < 300 ? "2xx" : String(status);
            counts.set(key, (counts.get(key) ?? 0) + 1);
          }
        };
        // Idle connections held open take most of the connection cap, so that some clients meet it.
        const { port } = new URL(server.url);
        const held: Socket[] = [];
        try {
          for (let i = 0; i < 18; i++) {
            held.push(
              await new Promise<Socket>((resolve) => {
                const socket = connect(Number(port), "127.0.0.1", () => resolve(socket));
                socket.on("error", () => {});
              }),
            );
          }
          await Promise.all(Array.from({ length: 80 }, client));
        } finally {
          for (const socket of held) socket.destroy();
        }
        const summary = Object.fromEntries(counts);
        t.diagnostic(`answers in 3 s: ${JSON.stringify(summary)}`);
        for (const key of counts.keys()) assert.ok(["2xx", "429", "408", "503"].includes(key), JSON.stringify(summary));
        assert.ok((counts.get("2xx") ?? 0) > 0, JSON.stringify(summary));
      },
    );
  });
});
