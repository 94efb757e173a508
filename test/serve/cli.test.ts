import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, test } from "node:test";
import { cleanEnv, runCli, WARDEN_BIN } from "../helpers/cli.js";
import { appsDir } from "./helpers.js";

const dir = appsDir({
  "hello.js": `export default { fetch: (request, env) => new Response("hello " + (env.WHO ?? "nobody")) };`,
  "slow.js": `export default { async fetch() { await new Promise((r) => setTimeout(r, 600)); return new Response("slow done"); } };`,
});

describe("warden serve: the CLI", () => {
  test("serves over real HTTP, logs JSON lines, drains on SIGTERM with a request in flight and exits 0", async () => {
    const cwd = appsDir({
      "warden.config.json": JSON.stringify({ serve: { apps: { hello: { env: { WHO: "config" } } } } }),
    });
    const child = spawn(
      process.execPath,
      // --cpu 1s: the first call on a fresh instance may pass 50 ms of CPU on a loaded test machine.
      [WARDEN_BIN, "serve", dir, "--port", "0", "--admin-port", "0", "--instances", "1", "--cpu", "1s"],
      { cwd, env: cleanEnv({ WARDEN_SERVE_DRAIN_TIMEOUT: "5s" }), stdio: ["ignore", "pipe", "pipe"] },
    );
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const lines: Record<string, unknown>[] = [];
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
        const rl = createInterface({ input: child.stdout });
        rl.on("line", (line) => {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          lines.push(parsed);
          if (parsed["msg"] === "listening") resolve(parsed);
        });
        child.once("exit", () => reject(new Error(`warden serve exited early: ${stderr}`)));
      });
      const { url, adminUrl } = (await listening) as { url: string; adminUrl: string };
      const hello = await fetch(`${url}/hello`, { headers: { "x-request-id": "cli-1" } });
      assert.equal(await hello.text(), "hello config");
      assert.equal(hello.headers.get("x-request-id"), "cli-1");
      assert.equal((await fetch(`${adminUrl}/health`)).status, 200);
      const inFlight = fetch(`${url}/slow`);
      await new Promise((r) => setTimeout(r, 200));
      child.kill("SIGTERM");
      const slow = await inFlight;
      assert.equal(slow.status, 200);
      assert.equal(await slow.text(), "slow done");
      assert.equal(await exited, 0);
      assert.ok(lines.some((l) => l["msg"] === "request" && l["requestId"] === "cli-1" && l["status"] === 200));
      assert.ok(lines.some((l) => l["msg"] === "draining"));
      assert.ok(lines.some((l) => l["msg"] === "stopped"));
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    }
  });

  test("--watch is a bare flag: an edited app is served in its new version, and SIGTERM still exits 0", async () => {
    const apps = appsDir({ "hello.js": `export default () => "v1";` });
    const child = spawn(
      process.execPath,
      [WARDEN_BIN, "serve", apps, "--watch", "--port", "0", "--instances", "1", "--cpu", "1s"],
      { cwd: apps, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] },
    );
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
        createInterface({ input: child.stdout }).on("line", (line) => {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (parsed["msg"] === "listening") resolve(parsed);
        });
        child.once("exit", () => reject(new Error(`warden serve exited early: ${stderr}`)));
      });
      const { url, watch } = (await listening) as { url: string; watch: boolean };
      assert.equal(watch, true);
      assert.equal(await (await fetch(`${url}/hello`)).text(), "v1");
      writeFileSync(join(apps, "hello.js"), `export default () => "v2";`);
      const deadline = Date.now() + 10_000;
      while ((await (await fetch(`${url}/hello`)).text()) !== "v2") {
        assert.ok(Date.now() < deadline, "the edit was not served within 10 s");
        await new Promise((r) => setTimeout(r, 25));
      }
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    }
  });

  test("bad settings exit 2 with a message naming the source, the value and the expected form", () => {
    const flag = runCli(["serve", dir, "--port", "http"]);
    assert.equal(flag.status, 2);
    assert.match(flag.stderr, /invalid value "http" from the flag --port.*expected a whole number from 0 to 65535/);
    const variable = runCli(["serve", dir], { env: { WARDEN_SERVE_USER_FROM: "cookie" } });
    assert.equal(variable.status, 2);
    assert.match(variable.stderr, /"cookie" from the variable WARDEN_SERVE_USER_FROM.*expected ip, or header:NAME/);
    const cwd = appsDir({});
    writeFileSync(join(cwd, "warden.config.json"), JSON.stringify({ serve: { drainTimeoutMs: "soon" } }));
    const file = runCli(["serve", dir], { cwd });
    assert.equal(file.status, 2);
    assert.match(
      file.stderr,
      /"soon" from the file .*warden\.config\.json key serve\.drainTimeoutMs.*expected a duration/,
    );
    const limit = runCli(["serve", dir, "--cpu", "fast"]);
    assert.equal(limit.status, 2);
    assert.match(limit.stderr, /the flag --cpu/);
    const bulkhead = runCli(["serve", dir, "--max-queue-per-user", "many"]);
    assert.equal(bulkhead.status, 2);
    assert.match(bulkhead.stderr, /"many" from the flag --max-queue-per-user/);
    const missing = runCli(["serve", join(dir, "nope")]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /the argument <path>/);
  });
});
