// The warden serve dashboard: its data over HTTP (state, server-sent events, the admin token), and
// the page itself in a real browser: headless Chromium (Debian's `chromium`, found with
// `which chromium`; .ci/run installs it) driven by playwright-core. The browser test fails rather
// than skips without Chromium. A screenshot goes to test-artifacts/ (git-ignored).
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chromium, type Browser } from "playwright-core";
import { resolveServeSettings } from "../../src/serve/index.js";
import { busiestUsers } from "../../src/serve/dashboard.js";
import { appsDir, withServer } from "./helpers.js";

const ARTIFACTS = resolve(import.meta.dirname, "../../test-artifacts");
const DEADLINE_MS = 30_000;

const APPS = {
  "hello.js": `export default { fetch: (request) => new Response("hi " + new URL(request.url).pathname) };`,
  "spin.js": `export default { fetch() { for (;;) {} } };`,
};
// The spinning app ends in the instruction limit quickly; the others are not in the way.
const LIMITS = { options: { maxInstructions: 200_000, cpuTimeMs: "5s", timeoutMs: "10s" } };

/** The page's document, in functions that run in the browser (the project's TypeScript has no DOM types). */
interface PageDocument {
  body: { dataset: Record<string, string | undefined> };
  getElementById(id: string): { textContent: string | null } | null;
}
// Playwright sends each predicate's text to the page (as functions: the page's CSP forbids eval of
// strings), where `document` is the real one.
declare const document: PageDocument;

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface StateBody {
  history: { t: number }[];
  state: {
    apps: {
      name: string;
      stats: { recycled: number; calls: number };
      requests: number;
      memory: { latestBytes: number; maxBytes: number | null; latest: string; max: string | null } | null;
    }[];
    users: { user: string; running: number; queued: number }[];
    datastore: { namespace: string; bytes: number; size: string }[] | null;
    limits: {
      byKind: Record<string, number>;
      latest: { app: string; requestId: string; kind: string; value: number }[];
    };
    totals: { requests: number };
  };
}

async function stateOf(adminUrl: string, init?: RequestInit): Promise<StateBody> {
  const res = await fetch(`${adminUrl}/dashboard/state`, init);
  assert.equal(res.status, 200);
  return (await res.json()) as StateBody;
}

describe("warden serve dashboard", () => {
  test("state with no traffic, then requests, limit hits (app, request id, limit, value) and a recycled app", async () => {
    await withServer({ path: appsDir(APPS), limits: LIMITS }, async (server) => {
      const empty = await stateOf(server.adminUrl);
      assert.deepEqual(empty.state.apps.map((a) => a.name).sort(), ["hello", "spin"]);
      assert.equal(empty.state.totals.requests, 0);
      assert.ok(empty.history.length >= 1);

      for (let i = 0; i < 5; i++) assert.equal((await fetch(`${server.url}/hello/${i}`)).status, 200);
      const spun = await fetch(`${server.url}/spin/`, { headers: { "x-request-id": "spin-1" } });
      assert.equal(spun.status, 503);
      await spun.arrayBuffer();

      const after = await until("the six requests counted", async () => {
        const body = await stateOf(server.adminUrl);
        return body.state.totals.requests === 6 ? body : undefined;
      });
      assert.equal(after.state.limits.byKind["instructions"], 1);
      assert.deepEqual(after.state.limits.latest[0], {
        ...after.state.limits.latest[0],
        app: "spin",
        requestId: "spin-1",
        kind: "instructions",
        value: 200_000,
      });
      const spin = after.state.apps.find((a) => a.name === "spin")!;
      assert.equal(spin.stats.recycled, 1);
      assert.equal(spin.requests, 1);
    });
  });

  test("the bulkhead's busiest users, sandbox memory per app, and datastore bytes per namespace", async () => {
    const apps = {
      "notes.js": `export default { async fetch(request) {
        const user = request.headers.get("x-user");
        await datastore("notes").set(user, "x".repeat(100));
        return new Response("ok " + user);
      } };`,
    };
    await withServer(
      { path: appsDir(apps), limits: LIMITS, datastore: "memory:", userFrom: "header:x-user" },
      async (server) => {
        const empty = await stateOf(server.adminUrl);
        assert.deepEqual(empty.state.users, []);
        assert.deepEqual(empty.state.datastore, []);
        assert.equal(empty.state.apps[0]!.memory, null);

        for (const user of ["alice", "alice", "bob"]) {
          const res = await fetch(`${server.url}/notes/`, { headers: { "x-user": user } });
          assert.equal(res.status, 200);
          assert.equal(await res.text(), `ok ${user}`);
        }
        const after = await until("the users, the memory and the namespace's bytes", async () => {
          const body = await stateOf(server.adminUrl);
          const { users, datastore, apps: rows } = body.state;
          // A read of the namespace's bytes may have come between the requests: wait for one after them.
          return users.length === 2 && datastore?.[0]?.bytes === 212 && rows[0]!.memory !== null ? body : undefined;
        });
        assert.deepEqual(after.state.users.map((u) => u.user).sort(), ["x-user:alice", "x-user:bob"]);
        for (const user of after.state.users) assert.deepEqual(user, { ...user, running: 0, queued: 0 });
        const notes = after.state.datastore!.find((d) => d.namespace === "notes")!;
        // Two entries: each key ("alice", "bob") and its value's JSON text (102 bytes).
        assert.equal(notes.bytes, 5 + 102 + 3 + 102);
        assert.equal(notes.size, "212B");
        const memory = after.state.apps.find((a) => a.name === "notes")!.memory!;
        assert.ok(memory.latestBytes > 0);
        assert.ok(memory.maxBytes !== null && memory.maxBytes >= memory.latestBytes);
        assert.match(memory.latest, /^\d+(?:\.\d+)?(?:[KMG])?B$/);
      },
    );
  });

  test("busiest users: by running + queued (blocked counts as queued), then the most recently active", () => {
    const user = (userId: string, concurrent: number, queued: number, blocked: number, lastActivity: number) => ({
      userId,
      concurrent,
      queued,
      blocked,
      lastActivity,
    });
    const users = [
      user("idle-old", 0, 0, 0, 1),
      user("idle-new", 0, 0, 0, 5),
      user("busy", 2, 1, 0, 2),
      user("blocked", 1, 0, 3, 3),
      user("one", 1, 0, 0, 4),
    ];
    assert.deepEqual(busiestUsers(users, 4), [
      { user: "blocked", running: 1, queued: 3 },
      { user: "busy", running: 2, queued: 1 },
      { user: "one", running: 1, queued: 0 },
      { user: "idle-new", running: 0, queued: 0 },
    ]);
    assert.deepEqual(busiestUsers([], 5), []);
  });

  test("without a datastore, the state says so", async () => {
    await withServer({ path: appsDir(APPS), limits: LIMITS }, async (server) => {
      assert.equal((await stateOf(server.adminUrl)).state.datastore, null);
    });
  });

  test("server-sent events: history first, then a snapshot every second", async () => {
    await withServer({ path: appsDir(APPS), limits: LIMITS }, async (server) => {
      const controller = new AbortController();
      const res = await fetch(`${server.adminUrl}/dashboard/events`, { signal: controller.signal });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      try {
        await until("two tick events", async () => {
          const { value, done } = await reader.read();
          if (done) assert.fail("the event stream ended");
          text += value;
          return (text.match(/^event: tick$/gm) ?? []).length >= 2 ? true : undefined;
        });
      } finally {
        controller.abort();
        await reader.cancel().catch(() => {});
      }
      assert.ok(text.indexOf("event: history") < text.indexOf("event: tick"));
    });
  });

  test("the admin token: required as a bearer token or ?token=, but for /health and /ready", async () => {
    const token = "s3cret-admin-token-0123";
    await withServer({ path: appsDir(APPS), limits: LIMITS, adminToken: token }, async (server) => {
      for (const path of ["/", "/metrics", "/dashboard/state", "/dashboard/events"]) {
        const res = await fetch(`${server.adminUrl}${path}`);
        assert.equal(res.status, 401, path);
        assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
        await res.arrayBuffer();
        const wrong = await fetch(`${server.adminUrl}${path}`, { headers: { authorization: "Bearer nope" } });
        assert.equal(wrong.status, 401, path);
        await wrong.arrayBuffer();
      }
      await stateOf(server.adminUrl, { headers: { authorization: `Bearer ${token}` } });
      const byQuery = await fetch(`${server.adminUrl}/?token=${token}`);
      assert.equal(byQuery.status, 200);
      assert.match(await byQuery.text(), /warden serve/);
      for (const path of ["/health", "/ready", "/dashboard/uPlot.iife.min.js"]) {
        const res = await fetch(`${server.adminUrl}${path}`);
        assert.equal(res.status, 200, path);
        await res.arrayBuffer();
      }
    });
  });

  test("an admin host that is not loopback needs a token; the token is never shown in errors", () => {
    assert.throws(() => resolveServeSettings({ options: { adminHost: "0.0.0.0" } }), /admin token/);
    assert.equal(
      resolveServeSettings({ options: { adminHost: "0.0.0.0", adminToken: "0123456789abcdef" } }).adminHost,
      "0.0.0.0",
    );
    assert.equal(resolveServeSettings({ options: { adminHost: "::1" } }).adminHost, "::1");
    assert.throws(
      () => resolveServeSettings({ env: { WARDEN_SERVE_ADMIN_TOKEN: "short secret" } }),
      (error: Error) => !error.message.includes("short secret") && /WARDEN_SERVE_ADMIN_TOKEN/.test(error.message),
    );
  });

  test("in headless Chromium: the page loads without console errors, shows the apps, and its numbers change with traffic", async () => {
    let executablePath = "";
    try {
      executablePath = execFileSync("which", ["chromium"], { encoding: "utf8" }).trim();
    } catch {
      assert.fail("chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)");
    }
    await withServer({ path: appsDir(APPS), limits: LIMITS }, async (server) => {
      let browser: Browser | undefined;
      try {
        browser = await chromium.launch({
          executablePath,
          headless: true,
          args: ["--no-sandbox"],
          timeout: DEADLINE_MS,
        });
        const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
        page.setDefaultTimeout(DEADLINE_MS);
        const problems: string[] = [];
        page.on("console", (message) => {
          if (message.type() === "error" || message.type() === "warning")
            problems.push(`${message.type()}: ${message.text()}`);
        });
        page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
        page.on("requestfailed", (request) => {
          // The event stream is cut when the page closes; anything else failing is a problem.
          if (!request.url().includes("/dashboard/events")) problems.push(`request failed: ${request.url()}`);
        });

        await page.goto(`${server.adminUrl}/`);
        await page.waitForFunction(() => Number(document.body.dataset["updates"] ?? 0) >= 1);
        const names = await page.$$eval("#apps tbody tr td:first-child", (cells) => cells.map((c) => c.textContent));
        assert.deepEqual(names.sort(), ["hello", "spin"]);
        assert.equal(await page.textContent("#tile-requests"), "0");
        assert.equal((await page.locator(".chart canvas").count()) >= 4, true, "four charts drawn");

        for (let i = 0; i < 20; i++) await (await fetch(`${server.url}/hello/${i}`)).arrayBuffer();
        const spun = await fetch(`${server.url}/spin/`, { headers: { "x-request-id": "browser-spin-1" } });
        assert.equal(spun.status, 503);
        await spun.arrayBuffer();

        await page.waitForFunction(() => document.getElementById("tile-requests")?.textContent === "21");
        await page.waitForFunction(
          () => document.getElementById("limit-latest")?.textContent?.includes("browser-spin-1") === true,
        );
        const latest = await page.$$eval("#limit-latest tbody tr:first-child td", (cells) =>
          cells.map((c) => c.textContent),
        );
        assert.deepEqual(latest.slice(1), ["spin", "browser-spin-1", "instructions", "200000"]);
        // The recycled app is still listed, with its recycled instance counted.
        await until("the spin app's recycled instance on the page", async () => {
          const spinRow = await page.$$eval("#apps tbody tr", (rows) =>
            rows
              .map((r) => [...r.querySelectorAll("td")].map((c) => c.textContent))
              .find((cells) => cells[0] === "spin"),
          );
          return spinRow?.[9] === "1" ? true : undefined;
        });
        // The busiest users: the one client, keyed by its address; no datastore on this server.
        await page.waitForFunction(
          () => document.getElementById("users")?.textContent?.includes("ip:127.0.0.1") === true,
        );
        assert.match((await page.textContent("#datastore tbody")) ?? "", /no datastore/);
        // A limit error is not a rejection: the turned-away counts stay at zero.
        assert.equal(await page.textContent("#tile-rejected"), "0 / 0 / 0");

        mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
        assert.deepEqual(problems, []);
      } finally {
        await browser?.close();
      }
    });
  });
});
