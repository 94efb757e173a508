/**
 * `warden serve` with its bulkhead in Redis: three real `warden serve`
 * processes share one user's cap; Redis unreachable at start stops the start
 * (exit 2); Redis lost while serving fails closed (503 + Retry-After) or open
 * (this instance's own caps), logged and counted, and the server re-joins when
 * Redis is back. The redis-server is the test's own, on a free port.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { freePort, startRedis, type TestRedis } from "../bulkhead/redis-server.js";
import { cleanEnv, WARDEN_BIN } from "../helpers/cli.js";
import { appsDir, metric, withServer } from "./helpers.js";

/** An app that holds its slot for a while, so that requests sent together overlap. */
const apps = appsDir({
  "hold.js": `export default { async fetch() { await new Promise((r) => setTimeout(r, 700)); return new Response("held"); } };`,
  "quick.js": `export default () => "quick";`,
});

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

/** A fresh key prefix: every test has a bulkhead of its own in the shared Redis. */
const prefix = (): string => `warden-serve-test-${randomBytes(4).toString("hex")}`;

interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly exited: Promise<number | null>;
}

/** Starts `warden serve` as a process of its own and waits for its "listening" line. */
async function serveProcess(args: string[]): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [WARDEN_BIN, "serve", apps, "--port", "0", "--admin-port", "0", "--instances", "4", "--cpu", "1s", ...args],
    { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (parsed["msg"] === "listening") resolve(parsed["url"] as string);
    });
    child.once("exit", (code) => reject(new Error(`warden serve exited early (${code}): ${stderr}`)));
  });
  return { child, url, exited };
}

async function stopProcess(server: ServeProcess): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGTERM");
  await server.exited;
}

/** Polls until `check` holds, for at most `ms`; the tests wait for states, not for times. */
async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("warden serve with the bulkhead in Redis", () => {
  test("three warden serve processes sharing one Redis hold a user's cap across them", async () => {
    const shared = [
      "--bulkhead-store",
      redis.url,
      "--bulkhead-redis-prefix",
      prefix(),
      "--user-from",
      "header:x-user",
      "--max-concurrent-per-user",
      "3",
      "--max-queue-per-user",
      "0",
    ];
    const servers = await Promise.all([serveProcess(shared), serveProcess(shared), serveProcess(shared)]);
    try {
      // Warm every server's app first, so that the held requests overlap for certain.
      for (const server of servers) assert.equal((await fetch(`${server.url}/quick/`)).status, 200);
      // 12 requests of one user at once, 4 to each server: each server alone would admit 3 of its 4.
      const sent = Array.from({ length: 12 }, (_, i) => {
        const server = servers[i % 3]!;
        return fetch(`${server.url}/hold/`, { headers: { "x-user": "alice" } }).then(async (response) => ({
          server: i % 3,
          status: response.status,
          retryAfter: response.headers.get("retry-after"),
          body: await response.text(),
        }));
      });
      // Another user, at the same time, is not held back by alice's cap.
      const bob = Array.from({ length: 3 }, (_, i) =>
        fetch(`${servers[i]!.url}/hold/`, { headers: { "x-user": "bob" } }).then((r) => r.status),
      );
      const answers = await Promise.all(sent);
      assert.deepEqual(await Promise.all(bob), [200, 200, 200]);
      const ok = answers.filter((a) => a.status === 200);
      const rejected = answers.filter((a) => a.status === 429);
      assert.equal(ok.length, 3, `exactly the cap ran across the three servers: ${JSON.stringify(answers)}`);
      assert.equal(rejected.length, 9);
      for (const answer of rejected) {
        assert.match(answer.retryAfter ?? "", /^\d+$/, "a 429 says when to retry");
        assert.match(answer.body, /"status":429/);
      }
      // Each server turned away some of its own 4: the cap was the cluster's, not each server's.
      assert.equal(new Set(rejected.map((a) => a.server)).size, 3);
      // Every slot was given back: the same user runs 3 again.
      const again = await Promise.all(
        servers.map((s) => fetch(`${s.url}/hold/`, { headers: { "x-user": "alice" } }).then((r) => r.status)),
      );
      assert.deepEqual(again, [200, 200, 200]);
    } finally {
      await Promise.all(servers.map(stopProcess));
    }
    for (const server of servers) assert.equal(await server.exited, 0);
  });

  test("Redis unreachable at start: warden serve exits 2 naming the Redis URL and the cause", async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        WARDEN_BIN,
        "serve",
        apps,
        "--port",
        "0",
        "--admin-port",
        "0",
        "--bulkhead-store",
        `redis://:secret@127.0.0.1:${port}`,
      ],
      { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    assert.equal(code, 2, `exit code; stderr: ${stderr}`);
    assert.match(stderr, new RegExp(`bulkhead store.*127\\.0\\.0\\.1:${port}`));
    assert.match(stderr, /ECONNREFUSED|cannot reach/);
    assert.doesNotMatch(stderr + stdout, /secret/, "the password is never printed");
    assert.doesNotMatch(stdout, /"msg":"listening"/);
  });

  test("a bad --bulkhead-store is refused with exit 2, naming the flag, the value and the forms expected", async () => {
    const child = spawn(process.execPath, [WARDEN_BIN, "serve", apps, "--bulkhead-store", "postgres://x"], {
      env: cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    assert.equal(code, 2);
    assert.match(stderr, /--bulkhead-store/);
    assert.match(stderr, /postgres:\/\/x/);
    assert.match(stderr, /memory, redis, or a redis:\/\/ or rediss:\/\/ URL/);
  });

  test("Redis lost while serving, failing closed: 503 with Retry-After, /ready 503, logged and counted; back when Redis is", async () => {
    await withServer(
      {
        path: apps,
        bulkhead: {
          store: redis.url,
          redisKeyPrefix: prefix(),
          redisOnFailure: "closed",
          redisLeaseTtlMs: 2000,
          retryAfterSeconds: 7,
        },
      },
      async (server, logs) => {
        assert.equal((await fetch(`${server.url}/quick/`)).status, 200);
        assert.equal(await metric(server.adminUrl, 'warden_bulkhead_store_state{state="connected"}'), 1);
        await redis.kill();
        try {
          let last: Response | undefined;
          await until("a 503 while Redis is away", async () => {
            last = await fetch(`${server.url}/quick/`);
            return last.status === 503;
          });
          assert.equal(last!.headers.get("retry-after"), "7");
          assert.match(await last!.text(), /service_unavailable|Redis/);
          assert.equal((await fetch(`${server.adminUrl}/ready`)).status, 503);
          assert.equal((await fetch(`${server.adminUrl}/health`)).status, 200, "alive, only not ready");
          assert.equal(await metric(server.adminUrl, 'warden_bulkhead_store_state{state="unavailable"}'), 1);
          assert.ok((await metric(server.adminUrl, "warden_bulkhead_store_rejected_total")) >= 1);
          assert.equal(await metric(server.adminUrl, "warden_bulkhead_store_outages_total"), 1);
          assert.ok(
            logs.lines.some((l) => l["level"] === "warn" && /bulkhead store: lost Redis at/.test(String(l["msg"]))),
            "the outage is a server event in the JSON log",
          );
        } finally {
          await redis.restart();
        }
        await until("a 200 once Redis is back", async () => (await fetch(`${server.url}/quick/`)).status === 200);
        assert.equal(await metric(server.adminUrl, 'warden_bulkhead_store_state{state="connected"}'), 1);
        assert.equal((await fetch(`${server.adminUrl}/ready`)).status, 200);
        assert.ok(logs.lines.some((l) => /bulkhead store: .* is back/.test(String(l["msg"]))));
        // Nothing stays held: the cluster's counters read zero once the requests are done.
        await until(
          "no slot held in Redis",
          async () => (await metric(server.adminUrl, "warden_bulkhead_running")) === 0,
        );
      },
    );
  });

  test("Redis lost while serving, failing open: this instance's own caps admit, counted; slots settle when Redis is back", async () => {
    await withServer(
      {
        path: apps,
        instances: 4,
        userFrom: "header:x-user",
        bulkhead: {
          store: redis.url,
          redisKeyPrefix: prefix(),
          redisOnFailure: "open",
          redisLeaseTtlMs: 2000,
          maxConcurrentPerUser: 2,
          maxQueuePerUser: 0,
        },
      },
      async (server, logs) => {
        assert.equal((await fetch(`${server.url}/quick/`)).status, 200);
        await redis.kill();
        let restarted = false;
        try {
          await until("the fallback", async () => {
            await fetch(`${server.url}/quick/`);
            return (await metric(server.adminUrl, 'warden_bulkhead_store_state{state="fallback"}')) === 1;
          });
          // The user's cap still holds, on this instance's own accounting.
          const statuses = await Promise.all(
            Array.from({ length: 5 }, () =>
              fetch(`${server.url}/hold/`, { headers: { "x-user": "carol" } }).then((r) => r.status),
            ),
          );
          assert.deepEqual(
            statuses.sort(),
            [200, 200, 429, 429, 429],
            `two run on the fallback, the rest are turned away: ${statuses.join(",")}`,
          );
          assert.ok((await metric(server.adminUrl, "warden_bulkhead_store_fallback_admissions_total")) >= 2);
          assert.ok(logs.lines.some((l) => /bulkhead store: lost Redis at .*fail open/.test(String(l["msg"]))));
          // A request still running when Redis comes back releases its slot there, and none leaks.
          const running = fetch(`${server.url}/hold/`, { headers: { "x-user": "carol" } }).then((r) => r.status);
          await redis.restart();
          restarted = true;
          assert.equal(await running, 200);
        } finally {
          if (!restarted) await redis.restart();
        }
        await until(
          "the re-join",
          async () => (await metric(server.adminUrl, 'warden_bulkhead_store_state{state="connected"}')) === 1,
        );
        await until(
          "no slot held in Redis",
          async () => (await metric(server.adminUrl, "warden_bulkhead_running")) === 0,
        );
        // Redis came back empty: admissions pause for up to one lease (2 s here) while live instances
        // re-join with what they run (docs/distributed.md). Then the user's whole cap is free: a leaked
        // slot would turn one of two overlapping requests away for ever.
        await until("the user's whole cap free again", async () => {
          const both = await Promise.all(
            Array.from({ length: 2 }, () =>
              fetch(`${server.url}/hold/`, { headers: { "x-user": "carol" } }).then((r) => r.status),
            ),
          );
          return both.every((status) => status === 200);
        });
      },
    );
  });
});
