import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { join } from "node:path";
import { appsDir, bodyOf, withServer } from "./helpers.js";

const ECHO = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return Response.json({ path: url.pathname, search: url.search, method: request.method, env, body: await request.text() });
  },
};`;

describe("warden serve: routing", () => {
  const dir = appsDir({
    "echo.mjs": ECHO,
    "hello.ts": `export default (request: Request): string => "hello " + new URL(request.url).pathname;`,
    "data.js": `export default () => ({ answer: 42 });`,
    "folder/index.js": `export default { fetch: () => new Response("from a folder", { headers: { "x-app": "folder" } }) };`,
    "notes.txt": "not an app",
  });

  test("each file and folder is an app at /<name>/, which sees the URL without its prefix", async () => {
    await withServer({ path: dir }, async (server) => {
      assert.deepEqual([...server.apps].sort(), ["data", "echo", "folder", "hello"]);
      const echo = await fetch(`${server.url}/echo/a/b?x=1`, { method: "POST", body: "hi" });
      assert.equal(echo.status, 200);
      assert.match(echo.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
      assert.deepEqual(await echo.json(), { path: "/a/b", search: "?x=1", method: "POST", env: {}, body: "hi" });
      const root = await fetch(`${server.url}/echo`);
      assert.equal(((await root.json()) as { path: string }).path, "/");
      const hello = await fetch(`${server.url}/hello/there`);
      assert.equal(await hello.text(), "hello /there");
      assert.match(hello.headers.get("content-type") ?? "", /text\/plain/);
      assert.deepEqual(await (await fetch(`${server.url}/data`)).json(), { answer: 42 });
      const folder = await fetch(`${server.url}/folder/`);
      assert.equal(await folder.text(), "from a folder");
      assert.equal(folder.headers.get("x-app"), "folder");
    });
  });

  test("an unknown app is a 404 JSON answer, never a file lookup; x-request-id is honoured when well-formed", async () => {
    await withServer({ path: dir }, async (server) => {
      for (const path of ["/nope", "/notes.txt", "/..%2F..%2Fetc%2Fpasswd", "/"]) {
        const response = await fetch(`${server.url}${path}`, { headers: { "x-request-id": "req-123" } });
        assert.equal(response.status, 404, path);
        assert.equal(response.headers.get("x-request-id"), "req-123");
        const body = (await bodyOf(response)) as Record<string, unknown>;
        assert.equal(body["status"], 404);
        assert.equal(body["error"], "WARDEN_NOT_FOUND");
      }
      const bad = await fetch(`${server.url}/echo`, { headers: { "x-request-id": "bad id with spaces" } });
      assert.notEqual(bad.headers.get("x-request-id"), "bad id with spaces");
      assert.match(bad.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
    });
  });

  test("a file path serves one app at /, with its env from the config file", async () => {
    const configDir = appsDir({
      "warden.config.json": JSON.stringify({ serve: { apps: { "": { env: { REGION: "eu" } } } } }),
    });
    await withServer(
      { path: join(dir, "echo.mjs"), configFile: join(configDir, "warden.config.json") },
      async (server) => {
        assert.deepEqual(server.apps, [""]);
        const response = await fetch(`${server.url}/x/y`);
        const body = (await response.json()) as { path: string; env: unknown };
        assert.equal(body.path, "/x/y");
        assert.deepEqual(body.env, { REGION: "eu" });
      },
    );
  });
});

describe("warden serve: the QuickJS engine", () => {
  test("--engine quickjs serves the same apps under per-request limits", async () => {
    const dir = appsDir({
      "hi.js": `export default { fetch: (request) => new Response("hi from " + new URL(request.url).pathname) };`,
      "spin.js": `export default () => { for (;;) {} };`,
    });
    await withServer(
      { path: dir, engine: "quickjs", limits: { options: { maxInstructions: -1, cpuTimeMs: "300ms" } } },
      async (server) => {
        assert.equal(await (await fetch(`${server.url}/hi/q`)).text(), "hi from /q");
        const spin = await fetch(`${server.url}/spin`);
        assert.equal(spin.status, 503);
        assert.equal(((await bodyOf(spin)) as Record<string, unknown>)["message"], "CPU time limit exceeded (300ms)");
        assert.equal(await (await fetch(`${server.url}/hi`)).text(), "hi from /");
      },
    );
  });
});

describe("warden serve: URLs", () => {
  test("a path that looks like another host stays a path of this one", async () => {
    const dir = appsDir({ "url.js": `export default (request) => request.url;` });
    await withServer({ path: dir }, async (server) => {
      const { port } = new URL(server.url);
      const { request } = await import("node:http");
      const text = await new Promise<string>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port, path: "/url//evil.example/x?y=1" }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (body += chunk));
          res.on("end", () => resolve(body));
        });
        req.on("error", reject);
        req.end();
      });
      assert.equal(text, `http://127.0.0.1:${port}//evil.example/x?y=1`);
    });
  });
});
