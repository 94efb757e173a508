import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isConfigError } from "../../src/errors/index.js";
import { readConfigFile } from "../../src/limits/index.js";
import { discoverApps, resolveAppSettings, resolveServeSettings } from "../../src/serve/index.js";
import { appsDir } from "./helpers.js";

function fileWith(document: unknown) {
  const dir = appsDir({ "warden.config.json": JSON.stringify(document) });
  return readConfigFile({ cwd: dir })!;
}

function configError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => isConfigError(error) && pattern.test(error.message));
}

describe("warden serve: settings", () => {
  test("precedence, lowest first: defaults, config file, environment, flags, options", () => {
    const defaults = resolveServeSettings();
    assert.equal(defaults.port, 8787);
    assert.equal(defaults.host, "127.0.0.1");
    assert.equal(defaults.drainTimeoutMs, 10_000);
    assert.deepEqual(defaults.userFrom, { kind: "ip" });
    const file = fileWith({ serve: { port: 9000, drainTimeoutMs: "3s", logLevel: "warn", userFrom: "header:X-Key" } });
    const fromFile = resolveServeSettings({ file });
    assert.deepEqual(
      [fromFile.port, fromFile.drainTimeoutMs, fromFile.logLevel, fromFile.userFrom],
      [9000, 3000, "warn", { kind: "header", name: "x-key" }],
    );
    const layered = resolveServeSettings({
      file,
      env: { WARDEN_SERVE_PORT: "9100", WARDEN_SERVE_DRAIN_TIMEOUT: "4s" },
      flags: { port: "9200" },
      options: { drainTimeoutMs: 500 },
    });
    assert.equal(layered.port, 9200);
    assert.equal(layered.drainTimeoutMs, 500);
    assert.equal(layered.logLevel, "warn");
  });

  test("watch: off by default; the config file's serve.watch, WARDEN_SERVE_WATCH and the flag turn it on or off", () => {
    assert.equal(resolveServeSettings().watch, false);
    const file = fileWith({ serve: { watch: true } });
    assert.equal(resolveServeSettings({ file }).watch, true);
    assert.equal(resolveServeSettings({ file, env: { WARDEN_SERVE_WATCH: "0" } }).watch, false);
    assert.equal(resolveServeSettings({ env: { WARDEN_SERVE_WATCH: "yes" } }).watch, true);
    assert.equal(resolveServeSettings({ flags: { watch: "true" } }).watch, true);
    assert.equal(resolveServeSettings({ options: { watch: false }, flags: { watch: "true" } }).watch, false);
    configError(
      () => resolveServeSettings({ env: { WARDEN_SERVE_WATCH: "sometimes" } }),
      /"sometimes" from the variable WARDEN_SERVE_WATCH: not a boolean.*expected true or false/,
    );
  });

  test("bad values name their source, the value and the expected form", () => {
    configError(() => resolveServeSettings({ flags: { port: "70000" } }), /"70000" from the flag --port: out of range/);
    configError(
      () => resolveServeSettings({ env: { WARDEN_SERVE_ENGINE: "spidermonkey" } }),
      /from the variable WARDEN_SERVE_ENGINE.*expected one of v8, quickjs/,
    );
    configError(() => resolveServeSettings({ file: fileWith({ serve: { prot: 1 } }) }), /unknown serve setting "prot"/);
    configError(() => resolveServeSettings({ options: { logLevel: "loud" } }), /the option logLevel/);
    configError(() => resolveServeSettings({ flags: { drainTimeoutMs: "0" } }), /must be above 0/);
    configError(
      () => resolveAppSettings(fileWith({ serve: { apps: { a: { limits: { cpuTimeMs: "fast" } } } } })),
      /key serve\.apps\.a\.limits\.cpuTimeMs/,
    );
    configError(() => resolveAppSettings(fileWith({ serve: { apps: { a: { envv: {} } } } })), /unknown key/);
  });

  test("apps: files and folders with index.*, nothing else; a missing or empty path is a ConfigError", () => {
    const dir = appsDir({
      "a.js": "export default () => 1;",
      "b.ts": "export default (): number => 2;",
      "c.mjs": "export default () => 3;",
      "types.d.ts": "export {};",
      "readme.md": "# not an app",
      "d/index.mjs": "export default () => 4;",
      "e/other.js": "export default () => 5;",
    });
    assert.deepEqual(
      discoverApps(dir, "/").map((app) => app.name),
      ["a", "b", "c", "d"],
    );
    configError(() => discoverApps(`${dir}/missing`, "/"), /the argument <path>/);
    configError(() => discoverApps(appsDir({ "x.txt": "" }), "/"), /holds no apps/);
  });
});
