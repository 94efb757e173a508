import { test } from "node:test";
import assert from "node:assert/strict";
import { dirWith, runCli } from "../helpers/cli.js";
import { TEST_ENGINES } from "../helpers/runtime.js";

const files = {
  "ok.ts": "interface In { n: number }\nexport default (input: In) => ({ doubled: input.n * 2 });",
  "script.js": "console.log('to stderr'); [1, 2, 3].map((x) => x * x)",
  "throws.js": "function f() {\n  null.boom;\n}\nf();",
  "loop.js": "while (true) {}",
  "deep.js": "function f(n) { return f(n + 1) } f(0)",
  "input.json": '{"n": 21}',
  "doubling.js": "let s = 'xxxxxxxxxxxxxxxx'; for (;;) { s = s + s; s.charCodeAt(s.length - 1) }",
  "bad.js": "let = ;",
};

for (const engine of TEST_ENGINES) {
  test(`warden run [${engine}]: results on stdout, console on stderr, exit codes 0/1/2/3`, () => {
    const cwd = dirWith(files);
    const e = ["--engine", engine];

    const ok = runCli(["run", "ok.ts", "--input", '{"n": 4}', ...e], { cwd });
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), { doubled: 8 });

    const fromFile = runCli(["run", "ok.ts", "--input", "@input.json", "--json", ...e], { cwd });
    assert.equal(fromFile.status, 0, fromFile.stderr);
    const parsed = JSON.parse(fromFile.stdout);
    assert.deepEqual(parsed.value, { doubled: 42 });
    assert.equal(parsed.ok, true);
    assert.ok(parsed.usage.wallMs >= 0 && "instructions" in parsed.usage);

    const script = runCli(["run", "script.js", ...e], { cwd });
    assert.equal(script.status, 0);
    assert.deepEqual(JSON.parse(script.stdout), [1, 4, 9]);
    assert.match(script.stderr, /to stderr/);

    const thrown = runCli(["run", "throws.js", ...e], { cwd });
    assert.equal(thrown.status, 1);
    assert.match(thrown.stderr, /TypeError/);
    assert.match(thrown.stderr, /throws\.js:2:\d+/);

    const syntax = runCli(["run", "bad.js", ...e], { cwd });
    assert.equal(syntax.status, 1);
    assert.match(syntax.stderr, /SyntaxError/);

    const loop = runCli(["run", "loop.js", "--timeout", "50ms", "--max-instructions", "-1", ...e], { cwd });
    assert.equal(loop.status, 3);
    assert.match(loop.stderr, /execution timeout after 50ms/);
    assert.match(loop.stderr, /timeoutMs = 50ms/);

    const deep = runCli(["run", "deep.js", "--max-depth", "50", ...e], { cwd });
    assert.equal(deep.status, 3);
    assert.match(deep.stderr, /maximum recursion depth exceeded \(50 calls\)/);
    assert.match(deep.stderr, /hint: possible infinite recursion/);

    const fuel = runCli(["run", "loop.js", ...e], { cwd, env: { WARDEN_MAX_INSTRUCTIONS: "5000" } });
    assert.equal(fuel.status, 3);
    assert.match(fuel.stderr, /instruction limit exceeded \(5000\)/);

    const memory = runCli(["run", "doubling.js", "--memory", "32MB", "--max-instructions", "-1", ...e], { cwd });
    assert.equal(memory.status, 3, memory.stderr.slice(-500));
    assert.match(memory.stderr, /memory limit exceeded \(32MB\)/);

    for (const args of [
      ["run", "missing.js"],
      ["run", "ok.ts", "--input", "{nope"],
      ["run", "ok.ts", "--engine", "rhino"],
      ["run", "ok.ts", "--timeout", "soon"],
    ]) {
      const bad = runCli([...args], { cwd });
      assert.equal(bad.status, 2, `${args.join(" ")}: ${bad.stderr}`);
      assert.match(bad.stderr, /expected/);
    }
  });
}

test("the README's first command works: warden run examples/hello.ts", () => {
  const result = runCli(["run", "examples/hello.ts"], { cwd: process.cwd() });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout).primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
});
