import assert from "node:assert/strict";
import { mkdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { appsDir, untilMetric, withServer, type LogCapture } from "./helpers.js";

/** Polls `check` until it returns a value other than `undefined`, failing after `ms` (10 s). */
async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function text(url: string): Promise<string> {
  return (await fetch(url)).text();
}

/** Waits until `url` answers `expected`. */
function untilAnswer(url: string, expected: string): Promise<true> {
  return until(`${url} to answer ${JSON.stringify(expected)}`, async () =>
    (await text(url)) === expected ? true : undefined,
  );
}

function untilLog(logs: LogCapture, msg: string, accept: (line: Record<string, unknown>) => boolean) {
  return until(`a ${JSON.stringify(msg)} log line`, () => logs.messages(msg).find(accept));
}

/** Waits until `url` answers the status `expected`; returns the answer's body (JSON when it is JSON). */
function untilStatus(url: string, expected: number): Promise<unknown> {
  return until(`${url} to answer ${expected}`, async () => {
    const response = await fetch(url);
    const body = await response.text();
    if (response.status !== expected) return undefined;
    try {
      return JSON.parse(body) as unknown;
    } catch {
      return body;
    }
  });
}

/** File-system watchers open in this process. */
function fsWatchers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === "FSEventWrap").length;
}

describe("warden serve --watch", () => {
  test("an edited app file: the next requests see the new version, and 'app reloaded' is logged", async () => {
    const dir = appsDir({
      "hello.js": `export default () => "v1";`,
      "other.js": `export default () => "other";`,
    });
    await withServer({ path: dir, watch: true }, async (server, logs) => {
      assert.equal(await text(`${server.url}/hello`), "v1");
      writeFileSync(join(dir, "hello.js"), `export default () => "v2";`);
      await untilAnswer(`${server.url}/hello`, "v2");
      const line = await untilLog(logs, "app reloaded", (l) => l["app"] === "hello");
      // Nothing ran on the old version: it is closed at once.
      await untilLog(logs, "old version closed", (l) => l["app"] === "hello");
      assert.equal(line["file"], join(dir, "hello.js"));
      assert.equal(line["level"], "info");
      // The other app was not reloaded.
      assert.equal(await text(`${server.url}/other`), "other");
      assert.ok(!logs.messages("app reloaded").some((l) => l["app"] === "other"));
      const metrics = await text(`${server.adminUrl}/metrics`);
      assert.match(metrics, /warden_app_reloads_total\{app="hello",result="ok"\} 1/);
      // A save that writes another file and renames it over the app (as many editors do).
      writeFileSync(join(dir, ".hello.js.tmp"), `export default () => "v3";`);
      renameSync(join(dir, ".hello.js.tmp"), join(dir, "hello.js"));
      await untilAnswer(`${server.url}/hello`, "v3");
    });
  });

  test("a request in flight during the reload finishes on the old version; new ones go to the new version", async () => {
    // v1's /wait holds its request until v2's /go sets a datastore key: the two versions overlap
    // by construction, not by timing.
    const dir = appsDir({
      "app.js": `export default { async fetch(request) {
        if (new URL(request.url).pathname === "/wait") {
          while (!(await datastore("t").get("go"))) await new Promise((r) => setTimeout(r, 10));
          return new Response("v1 waited");
        }
        return new Response("v1");
      } };`,
    });
    await withServer(
      { path: dir, watch: true, datastore: "memory:", instances: 2, drainTimeoutMs: 2_000 },
      async (server, logs) => {
        assert.equal(await text(`${server.url}/app`), "v1");
        const inFlight = fetch(`${server.url}/app/wait`).then((r) => r.text());
        await untilMetric(server.adminUrl, "warden_runs_in_flight", (n) => n === 1);
        writeFileSync(
          join(dir, "app.js"),
          `export default { async fetch(request) {
            if (new URL(request.url).pathname === "/go") { await datastore("t").set("go", true); return new Response("v2 go"); }
            return new Response("v2");
          } };`,
        );
        await untilAnswer(`${server.url}/app`, "v2");
        const reloaded = await untilLog(logs, "app reloaded", (l) => l["app"] === "app");
        // The waiting request, and maybe one of the polls, were running on v1 at the swap.
        assert.ok(Number(reloaded["drainingRequests"]) >= 1, JSON.stringify(reloaded));
        assert.equal(await text(`${server.url}/app/go`), "v2 go");
        assert.equal(await inFlight, "v1 waited");
        // The old version's instances are closed once its last request is done.
        await untilLog(logs, "old version closed", (l) => l["app"] === "app");
      },
    );
  });

  test("a broken edit keeps the old version serving and logs the error with the app's name; a fix reloads", async () => {
    const dir = appsDir({ "hello.js": `export default () => "v1";` });
    await withServer({ path: dir, watch: true }, async (server, logs) => {
      assert.equal(await text(`${server.url}/hello`), "v1");
      writeFileSync(join(dir, "hello.js"), `export default () => { "v2"`);
      const failed = await untilLog(logs, "app reload failed", (l) => l["app"] === "hello");
      assert.equal(failed["level"], "error");
      assert.equal(typeof failed["errorMessage"], "string");
      assert.ok(String(failed["errorMessage"]).length > 0);
      assert.equal(await text(`${server.url}/hello`), "v1");
      // A module that throws while it loads is a failed reload too.
      writeFileSync(join(dir, "hello.js"), `throw new Error("boom at load"); export default () => "v3";`);
      await untilLog(logs, "app reload failed", (l) => String(l["errorMessage"]).includes("boom at load"));
      assert.equal(await text(`${server.url}/hello`), "v1");
      writeFileSync(join(dir, "hello.js"), `export default () => "v4";`);
      await untilAnswer(`${server.url}/hello`, "v4");
      assert.match(
        await text(`${server.adminUrl}/metrics`),
        /warden_app_reloads_total\{app="hello",result="failed"\} 2/,
      );
    });
  });

  test("a folder app reloads when any file in its folder changes; a single-file app reloads too", async () => {
    const dir = appsDir({
      "site/index.js": `export default () => "site v1";`,
      "site/data/notes.txt": "one",
    });
    await withServer({ path: dir, watch: true }, async (server, logs) => {
      assert.equal(await text(`${server.url}/site`), "site v1");
      writeFileSync(join(dir, "site/data/notes.txt"), "two");
      await untilLog(logs, "app reloaded", (l) => l["app"] === "site");
      writeFileSync(join(dir, "site/index.js"), `export default () => "site v2";`);
      await untilAnswer(`${server.url}/site`, "site v2");
    });
    const single = appsDir({ "app.ts": `export default (): string => "one";` });
    await withServer({ path: join(single, "app.ts"), watch: true }, async (server) => {
      assert.equal(await text(`${server.url}/`), "one");
      writeFileSync(join(single, "app.ts"), `export default (): string => "two";`);
      await untilAnswer(`${server.url}/`, "two");
    });
  });

  test("an app added to the directory is loaded and served, and 'app added' is logged", async () => {
    const dir = appsDir({ "hello.js": `export default () => "hello";` });
    await withServer({ path: dir, watch: true }, async (server, logs) => {
      assert.equal((await fetch(`${server.url}/fresh`)).status, 404);
      // A file app.
      writeFileSync(join(dir, "fresh.js"), `export default () => "fresh";`);
      await untilAnswer(`${server.url}/fresh`, "fresh");
      const added = await untilLog(logs, "app added", (l) => l["app"] === "fresh");
      assert.equal(added["file"], join(dir, "fresh.js"));
      assert.equal(added["level"], "info");
      assert.equal(added["instances"], 1);
      // A folder app, its folder made first.
      mkdirSync(join(dir, "site"));
      writeFileSync(join(dir, "site/index.js"), `export default () => "site";`);
      await untilAnswer(`${server.url}/site`, "site");
      // A folder that only becomes an app later, when an index.* file appears in it.
      mkdirSync(join(dir, "later"));
      writeFileSync(join(dir, "later/notes.txt"), "not an app yet");
      writeFileSync(join(dir, "marker.js"), `export default () => "marker";`);
      await untilAnswer(`${server.url}/marker`, "marker");
      assert.equal((await fetch(`${server.url}/later`)).status, 404);
      writeFileSync(join(dir, "later/index.ts"), `export default (): string => "later";`);
      await untilAnswer(`${server.url}/later`, "later");
      // An added app is watched like the others: an edit reloads it.
      writeFileSync(join(dir, "site/index.js"), `export default () => "site v2";`);
      await untilAnswer(`${server.url}/site`, "site v2");
      assert.deepEqual([...server.apps].sort(), ["fresh", "hello", "later", "marker", "site"]);
      assert.equal(await text(`${server.url}/hello`), "hello");
      const ready = JSON.parse(await text(`${server.adminUrl}/ready`)) as Record<string, unknown>;
      assert.equal(ready["apps"], 5);
      // The dashboard lists the added apps.
      const dashboard = JSON.parse(await text(`${server.adminUrl}/dashboard/state`)) as {
        state: { apps: { name: string }[] };
      };
      assert.deepEqual(dashboard.state.apps.map((app) => app.name).sort(), [
        "fresh",
        "hello",
        "later",
        "marker",
        "site",
      ]);
      assert.deepEqual(logs.messages("app load failed"), []);
    });
  });

  test("a removed app is no longer served (404), its instances close, and 'app removed' is logged", async () => {
    // waiter.js holds its request until setter.js sets a datastore key: the request is running
    // on the removed app by construction, not by timing.
    const dir = appsDir({
      "waiter.js": `export default { async fetch() {
        while (!(await datastore("t").get("go"))) await new Promise((r) => setTimeout(r, 10));
        return new Response("waited");
      } };`,
      "setter.js": `export default async () => { await datastore("t").set("go", true); return "set"; };`,
      "gone.js": `export default () => "gone";`,
      "site/index.js": `export default () => "site";`,
    });
    await withServer(
      { path: dir, watch: true, datastore: "memory:", instances: 2, drainTimeoutMs: 2_000 },
      async (server, logs) => {
        // A file app, idle: removed and closed at once.
        assert.equal(await text(`${server.url}/gone`), "gone");
        unlinkSync(join(dir, "gone.js"));
        // No request is made meanwhile, so none is running on it.
        const removed = await untilLog(logs, "app removed", (l) => l["app"] === "gone");
        assert.equal(removed["file"], join(dir, "gone.js"));
        assert.equal(removed["level"], "info");
        assert.equal(removed["drainingRequests"], 0);
        const body = (await untilStatus(`${server.url}/gone`, 404)) as Record<string, unknown>;
        assert.equal(body["error"], "WARDEN_NOT_FOUND");
        await untilLog(logs, "old version closed", (l) => l["app"] === "gone");
        assert.ok(!server.apps.includes("gone"));
        // A folder app.
        assert.equal(await text(`${server.url}/site`), "site");
        rmSync(join(dir, "site"), { recursive: true });
        await untilStatus(`${server.url}/site`, 404);
        await untilLog(logs, "app removed", (l) => l["app"] === "site");
        await untilLog(logs, "old version closed", (l) => l["app"] === "site");
        // A request running on a removed app finishes there; its instances close after it.
        const inFlight = fetch(`${server.url}/waiter`).then((r) => r.text());
        await untilMetric(server.adminUrl, "warden_runs_in_flight", (n) => n === 1);
        unlinkSync(join(dir, "waiter.js"));
        const draining = await untilLog(logs, "app removed", (l) => l["app"] === "waiter");
        assert.equal(draining["drainingRequests"], 1);
        assert.equal((await fetch(`${server.url}/waiter`)).status, 404);
        assert.ok(!logs.messages("old version closed").some((l) => l["app"] === "waiter"));
        assert.equal(await text(`${server.url}/setter`), "set");
        assert.equal(await inFlight, "waited");
        await untilLog(logs, "old version closed", (l) => l["app"] === "waiter");
        // The metrics and the dashboard still answer, and the app can come back.
        assert.equal((await fetch(`${server.adminUrl}/metrics`)).status, 200);
        writeFileSync(join(dir, "gone.js"), `export default () => "back";`);
        await untilAnswer(`${server.url}/gone`, "back");
        assert.deepEqual([...server.apps].sort(), ["gone", "setter"]);
        // A folder removed under its watcher is no watch failure.
        assert.deepEqual(logs.messages("watch failed"), []);
      },
    );
  });

  test("a new app that fails to load is logged and not served; the server keeps running, and a fix loads it", async () => {
    const dir = appsDir({ "hello.js": `export default () => "hello";` });
    await withServer({ path: dir, watch: true }, async (server, logs) => {
      writeFileSync(join(dir, "broken.js"), `export default () => { "v1"`);
      const failed = await untilLog(logs, "app load failed", (l) => l["app"] === "broken");
      assert.equal(failed["level"], "error");
      assert.equal(failed["file"], join(dir, "broken.js"));
      assert.ok(String(failed["errorMessage"]).length > 0);
      const body = (await untilStatus(`${server.url}/broken`, 404)) as Record<string, unknown>;
      assert.equal(body["error"], "WARDEN_NOT_FOUND");
      assert.equal(await text(`${server.url}/hello`), "hello");
      // A module that throws while it loads fails too.
      writeFileSync(join(dir, "broken.js"), `throw new Error("boom at load"); export default () => "v2";`);
      await untilLog(logs, "app load failed", (l) => String(l["errorMessage"]).includes("boom at load"));
      assert.equal((await fetch(`${server.url}/broken`)).status, 404);
      assert.deepEqual(server.apps, ["hello"]);
      // Fixed: loaded and served.
      writeFileSync(join(dir, "broken.js"), `export default () => "fixed";`);
      await untilAnswer(`${server.url}/broken`, "fixed");
      await untilLog(logs, "app added", (l) => l["app"] === "broken");
      assert.ok(!logs.messages("app reload failed").length);
    });
  });

  test("the watchers are closed with the server; without --watch none is opened", async () => {
    const dir = appsDir({ "hello.js": `export default () => "v1";`, "site/index.js": `export default () => "s";` });
    const before = fsWatchers();
    await withServer({ path: dir, watch: true }, async () => {
      assert.ok(fsWatchers() > before, "watching opens fs watchers");
    });
    assert.equal(fsWatchers(), before);
    await withServer({ path: dir }, async (server, logs) => {
      assert.equal(fsWatchers(), before);
      writeFileSync(join(dir, "hello.js"), `export default () => "v2";`);
      assert.equal(await text(`${server.url}/hello`), "v1");
      assert.equal(logs.messages("listening")[0]?.["watch"], false);
    });
  });
});
