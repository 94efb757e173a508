// allowCodeGeneration through the real CLI: flag, environment, config file,
// `warden limits` (table and --json), bad values, and a run that uses it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dirWith, runCli } from "../helpers/cli.js";

test("warden limits shows allowCodeGeneration with its value and source", () => {
  const defaults = runCli(["limits"]);
  assert.equal(defaults.status, 0, defaults.stderr);
  assert.match(defaults.stdout, /^allowCodeGeneration\s+true\s+default$/m);

  const flag = runCli(["limits", "--allow-code-generation", "false"]);
  assert.match(flag.stdout, /^allowCodeGeneration\s+false\s+flag --allow-code-generation$/m);

  const env = runCli(["limits"], { env: { WARDEN_ALLOW_CODE_GENERATION: "0" } });
  assert.match(env.stdout, /^allowCodeGeneration\s+false\s+env WARDEN_ALLOW_CODE_GENERATION$/m);

  const cwd = dirWith({ "warden.config.json": JSON.stringify({ limits: { allowCodeGeneration: false } }) });
  const file = runCli(["limits"], { cwd });
  assert.match(
    file.stdout,
    /^allowCodeGeneration\s+false\s+config \S+warden\.config\.json#limits\.allowCodeGeneration$/m,
  );
  // The flag wins over the file.
  const both = runCli(["limits", "--allow-code-generation", "TRUE"], { cwd });
  assert.match(both.stdout, /^allowCodeGeneration\s+true\s+flag --allow-code-generation$/m);
});

test("warden limits --json carries it as a boolean", () => {
  const defaults = JSON.parse(runCli(["limits", "--json", "--profile", "strict"]).stdout);
  assert.deepEqual(defaults.allowCodeGeneration, {
    value: true,
    unit: "boolean",
    source: "profile",
    origin: "strict (--profile)",
  });
  const flag = JSON.parse(runCli(["limits", "--json", "--allow-code-generation", "0"]).stdout);
  assert.deepEqual(flag.allowCodeGeneration, {
    value: false,
    unit: "boolean",
    source: "flag",
    origin: "--allow-code-generation",
  });
  assert.equal(flag.timeoutMs.value, 30000, "the numeric limits are unchanged");
});

test("--help lists the flag with its variable", () => {
  const help = runCli(["limits", "--help"]);
  assert.equal(help.status, 0);
  assert.match(help.stdout.replace(/\s+/g, " "), /--allow-code-generation <true\|false> allow eval, new Function/);
  assert.match(help.stdout, /WARDEN_ALLOW_CODE_GENERATION/);
});

test("bad values exit 2 naming the source, the value and the expected form", () => {
  const config = dirWith({ "warden.config.json": JSON.stringify({ limits: { allowCodeGeneration: "nope" } }) });
  for (const [args, options, pattern] of [
    [["limits", "--allow-code-generation", "yes"], {}, /invalid value "yes" from the flag --allow-code-generation/],
    [
      ["run", "-", "--allow-code-generation", "no"],
      { input: "1" },
      /invalid value "no" from the flag --allow-code-generation/,
    ],
    [
      ["limits"],
      { env: { WARDEN_ALLOW_CODE_GENERATION: "2" } },
      /invalid value "2" from the variable WARDEN_ALLOW_CODE_GENERATION/,
    ],
    [
      ["limits"],
      { cwd: config },
      /invalid value "nope" from the file \S+warden\.config\.json key limits\.allowCodeGeneration/,
    ],
  ] as const) {
    const result = runCli([...args], options);
    assert.equal(result.status, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, pattern);
    assert.match(result.stderr, /expected true or false \(or 1 or 0\)/);
    assert.equal(result.stdout, "");
  }
  // A missing value is a usage error too.
  const missing = runCli(["limits", "--allow-code-generation"]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /argument missing/);
});

test("warden run --allow-code-generation false: eval is an EvalError in the guest", () => {
  const caught = runCli(["run", "-", "--allow-code-generation", "false"], {
    input: "try { eval('1 + 1') } catch (e) { e.name + ': ' + (e instanceof EvalError) }",
  });
  assert.equal(caught.status, 0, caught.stderr);
  assert.equal(JSON.parse(caught.stdout), "EvalError: true");

  const thrown = runCli(["run", "-", "--filename", "gen.js"], {
    input: "const x = 1;\nnew Function('return 2')()",
    env: { WARDEN_ALLOW_CODE_GENERATION: "false" },
  });
  assert.equal(thrown.status, 1);
  assert.match(thrown.stderr, /EvalError/);
  assert.match(thrown.stderr, /gen\.js:2:\d+/);
});
