import { test } from "node:test";
import assert from "node:assert/strict";
import { dirWith, runCli } from "../helpers/cli.js";

test("--help works and lists the commands", () => {
  const result = runCli(["--help"]);
  assert.equal(result.status, 0);
  assert.match(result.stdout, /limits/);
  assert.match(result.stdout, /Exit codes/);
});

test("warden limits --json shows the DESIGN defaults for each profile", () => {
  const normal = JSON.parse(runCli(["limits", "--json"]).stdout);
  assert.deepEqual(normal.maxRecursionDepth, { value: 10000, unit: "calls", source: "default", origin: "built-in" });
  assert.equal(normal.timeoutMs.value, 30000);
  assert.equal(normal.memoryBytes.value, 50e6);
  const strict = JSON.parse(runCli(["limits", "--json", "--profile", "strict"]).stdout);
  assert.equal(strict.timeoutMs.value, 5000);
  assert.equal(strict.maxValueBytes.value, 1e6);
  assert.equal(strict.warnAt.value, 0.8);
  assert.equal(strict.timeoutMs.source, "profile");
  const relaxed = JSON.parse(runCli(["limits", "--json"], { env: { WARDEN_PROFILE: "relaxed" } }).stdout);
  assert.equal(relaxed.timeoutMs.value, 300000);
  assert.equal(relaxed.maxInstructions.value, 1e8);
});

test("env, file and flags override in order with the right source", () => {
  const cwd = dirWith({
    "warden.config.json": JSON.stringify({ limits: { timeoutMs: "1s", cpuTimeMs: "2s", memoryBytes: "3MB" } }),
  });
  const result = runCli(["limits", "--json", "--memory", "64MiB"], {
    cwd,
    env: { WARDEN_CPU_TIME: "250ms", WARDEN_MEMORY: "5MB" },
  });
  assert.equal(result.status, 0, result.stderr);
  const limits = JSON.parse(result.stdout);
  assert.deepEqual([limits.timeoutMs.value, limits.timeoutMs.source], [1000, "config"]);
  assert.deepEqual([limits.cpuTimeMs.value, limits.cpuTimeMs.source], [250, "env"]);
  assert.deepEqual([limits.memoryBytes.value, limits.memoryBytes.source], [64 * 2 ** 20, "flag"]);
});

test("the table view says disabled and names sources", () => {
  const result = runCli(["limits", "--timeout", "0", "--cpu", "-1"], { env: { WARDEN_MAX_TASKS: "7" } });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /timeoutMs\s+disabled \(0\)\s+flag --timeout/);
  assert.match(result.stdout, /cpuTimeMs\s+disabled \(-1\)/);
  assert.match(result.stdout, /maxConcurrentTasks\s+7 tasks\s+env WARDEN_MAX_TASKS/);
});

const BAD: [string[], Record<string, string>, RegExp][] = [
  [["--timeout", "-5"], {}, /"-5" from the flag --timeout.*negative.*expected a duration/],
  [["--timeout", "fast"], {}, /"fast" from the flag --timeout.*expected a duration/],
  [["--memory", "12XB"], {}, /"12XB" from the flag --memory.*unknown unit.*expected a size/],
  [["--max-depth", "2.5"], {}, /"2\.5" from the flag --max-depth.*whole number/],
  [["--profile", "fast"], {}, /"fast" from the flag --profile.*strict, normal, relaxed/],
  [[], { WARDEN_MAX_RECURSION_DEPTH: "1.5" }, /"1\.5" from the variable WARDEN_MAX_RECURSION_DEPTH.*whole number/],
  [[], { WARDEN_TIMEOUT: "-7" }, /"-7" from the variable WARDEN_TIMEOUT.*negative/],
  [[], { WARDEN_PROFILE: "yolo" }, /"yolo" from the variable WARDEN_PROFILE.*strict, normal, relaxed/],
  [["--config", "missing.json"], {}, /the flag --config.*no such file/],
  [["--frobnicate"], {}, /unknown option '--frobnicate'/],
];

test("every bad input exits 2 naming source, value and expected form", () => {
  for (const [args, env, pattern] of BAD) {
    const result = runCli(["limits", ...args], { env });
    assert.equal(result.status, 2, `${args.join(" ")} ${JSON.stringify(env)}: ${result.stderr}`);
    assert.match(result.stderr, pattern);
    assert.equal(result.stdout, "", "nothing printed on stdout");
  }
});

test("bad config files exit 2 naming the file and the position or key", () => {
  const invalid = dirWith({ "warden.config.json": '{"limits": {"timeoutMs": }}' });
  const r1 = runCli(["limits"], { cwd: invalid });
  assert.equal(r1.status, 2);
  assert.match(r1.stderr, /warden\.config\.json: not valid JSON at line 1, column 26/);
  const unknown = dirWith({ "warden.config.json": JSON.stringify({ limits: { recursion: 5 } }) });
  const r2 = runCli(["limits"], { cwd: unknown });
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /"recursion".*warden\.config\.json key limits.*unknown limit key/);
});
