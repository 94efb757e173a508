// `warden run -` reads the guest from standard input; `--filename` names it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dirWith, runCli } from "../helpers/cli.js";
import { TEST_ENGINES } from "../helpers/runtime.js";

for (const engine of TEST_ENGINES) {
  const e = ["--engine", engine];

  test(`warden run - [${engine}]: a script, a module and TypeScript piped in`, () => {
    const script = runCli(["run", "-", ...e], {
      input: "console.log('hi from stdin');\n[1, 2, 3].map((x) => x * 2)\n",
    });
    assert.equal(script.status, 0, script.stderr);
    assert.deepEqual(JSON.parse(script.stdout), [2, 4, 6]);
    assert.match(script.stderr, /hi from stdin/);

    const withInput = runCli(["run", "-", "--input", '{"n": 41}', ...e], { input: "input.n + 1" });
    assert.equal(withInput.status, 0, withInput.stderr);
    assert.equal(JSON.parse(withInput.stdout), 42);

    // Module or script is told by content, not by the name.
    const module = runCli(["run", "-", "--input", '{"a": 1, "b": 2}', ...e], {
      input: "const add = (x, y) => x + y;\nexport default (input) => ({ sum: add(input.a, input.b) });\n",
    });
    assert.equal(module.status, 0, module.stderr);
    assert.deepEqual(JSON.parse(module.stdout), { sum: 3 });

    const tsModule = runCli(["run", "-", "--filename", "x.ts", "--input", '{"n": 4}', ...e], {
      input: "interface In { n: number }\nexport default (input: In): number => input.n * 3;\n",
    });
    assert.equal(tsModule.status, 0, tsModule.stderr);
    assert.equal(JSON.parse(tsModule.stdout), 12);

    const tsScript = runCli(["run", "-", "--filename", "job.ts", ...e], { input: "const n: number = 5;\nn * 2" });
    assert.equal(tsScript.status, 0, tsScript.stderr);
    assert.equal(JSON.parse(tsScript.stdout), 10);

    // Without a .ts name the types are not stripped: the default name is [stdin], JavaScript.
    const untyped = runCli(["run", "-", ...e], { input: "const n: number = 5;\nn" });
    assert.equal(untyped.status, 1);
    assert.match(untyped.stderr, /SyntaxError/);
    assert.match(untyped.stderr, /\[stdin\]:1:8/);
  });

  test(`warden run - [${engine}]: errors carry the given name, line and column`, () => {
    const syntax = runCli(["run", "-", "--filename", "job.js", ...e], { input: "const a = 1;\nconst b = ;\n" });
    assert.equal(syntax.status, 1);
    assert.match(syntax.stderr, /SyntaxError/);
    assert.match(syntax.stderr, /job\.js:2:11/);
    assert.equal(syntax.stdout, "");

    const json = runCli(["run", "-", "--filename", "job.js", "--json", ...e], { input: "const a = 1;\nconst b = ;\n" });
    assert.equal(json.status, 1);
    assert.deepEqual(JSON.parse(json.stdout).error.position, { file: "job.js", line: 2, column: 11 });

    // A .ts name: the position is in the TypeScript as written, not in the stripped JavaScript.
    const ts = runCli(["run", "-", "--filename", "src/x.ts", ...e], {
      input: "type A = number;\nconst a: A = 1;\nlet = ;\n",
    });
    assert.equal(ts.status, 1);
    assert.match(ts.stderr, /SyntaxError/);
    assert.match(ts.stderr, /src\/x\.ts:3:7/);

    const thrown = runCli(["run", "-", ...e], { input: "function f() {\n  null.boom;\n}\nf();\n" });
    assert.equal(thrown.status, 1);
    assert.match(thrown.stderr, /TypeError/);
    assert.match(thrown.stderr, /\[stdin\]:2:\d+/);

    const named = runCli(["run", "-", "--filename", "rules/check.js", ...e], {
      input: "function f() {\n  null.boom;\n}\nf();\n",
    });
    assert.equal(named.status, 1);
    assert.match(named.stderr, /rules\/check\.js:2:\d+/);

    const limit = runCli(["run", "-", "--max-instructions", "1000", ...e], { input: "while (true) {}" });
    assert.equal(limit.status, 3);
    assert.match(limit.stderr, /instruction limit exceeded \(1000\)/);
  });
}

test("warden run -: empty standard input is a usage error, not an empty run", () => {
  for (const input of ["", "  \n\t\n"]) {
    const result = runCli(["run", "-"], { input });
    assert.equal(result.status, 2, JSON.stringify(input));
    assert.match(result.stderr, /standard input \(warden run -\): nothing to run: it was empty/);
    assert.match(result.stderr, /expected a script or module piped in/);
    assert.equal(result.stdout, "");
  }
});

test("--filename renames a real file too, and its .ts rule applies", () => {
  const cwd = dirWith({
    "throws.js": "function f() {\n  null.boom;\n}\nf();",
    "typed.txt": "const n: number = 7;\nn * 6",
  });
  const renamed = runCli(["run", "throws.js", "--filename", "renamed.js"], { cwd });
  assert.equal(renamed.status, 1);
  assert.match(renamed.stderr, /renamed\.js:2:\d+/);
  assert.doesNotMatch(renamed.stderr, /throws\.js/);

  const typed = runCli(["run", "typed.txt", "--filename", "typed.ts"], { cwd });
  assert.equal(typed.status, 0, typed.stderr);
  assert.equal(JSON.parse(typed.stdout), 42);
});

test("bad --filename values and a missing file exit 2 naming the value and the expected form", () => {
  for (const [args, pattern] of [
    [
      ["run", "-", "--filename", ""],
      /invalid value "" from the flag --filename: the name is empty; expected a file name/,
    ],
    [["run", "-", "--filename", " "], /invalid value " " from the flag --filename: the name is empty/],
    [["run", "-", "--filename", "a\nb.js"], /invalid value "a\\nb\.js" from the flag --filename: .*control character/],
    [["run", "missing.js"], /"missing\.js" from the command line.*expected .*or - to read it from standard input/],
  ] as const) {
    const result = runCli([...args], { input: "1 + 1" });
    assert.equal(result.status, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, pattern);
    assert.equal(result.stdout, "");
  }
});
