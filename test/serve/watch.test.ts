import assert from "node:assert/strict";
import { renameSync, writeFileSync } from "node:fs";
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
