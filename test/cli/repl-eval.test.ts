// The REPL's pieces that need no sandbox: how an input is prepared (complete or not, top-level
// declarations made global) and how a guest's value description prints.
import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { cleanStack, decodeValue, prepareInput, thrownBy } from "../../src/cli/repl-eval.js";

test("prepareInput: incomplete statements continue, complete ones get top-level let/const/class as var", () => {
  for (const input of [
    "function f() {",
    "if (x) {\n  y()",
    "[1, 2,",
    "`a\n${b}",
    "/* note",
    "1 +",
    "foo(",
    "({ a: 1,",
  ]) {
    assert.deepEqual(prepareInput(input), { kind: "incomplete" }, input);
  }
  assert.deepEqual(prepareInput("let a = 1, b = 2"), { kind: "complete", code: "var a = 1, b = 2" });
  assert.deepEqual(prepareInput("const { x } = o; x"), { kind: "complete", code: "var { x } = o; x" });
  assert.deepEqual(prepareInput("class K { m() { let q = 1 } }"), {
    kind: "complete",
    code: "var K = class K { m() { let q = 1 } };",
  });
  // Only the top level changes.
  assert.deepEqual(prepareInput("for (let i = 0; i < 2; i++) { const j = i }"), {
    kind: "complete",
    code: "for (let i = 0; i < 2; i++) { const j = i }",
  });
  // An input that starts with { and parses as an expression is an object literal, as in node.
  assert.deepEqual(prepareInput("{ a: 1 }"), { kind: "complete", code: "({ a: 1 }\n)" });
  assert.deepEqual(prepareInput("{ let z = 1; }"), { kind: "complete", code: "{ let z = 1; }" });
  // Code that cannot be completed goes to the sandbox as it is, to fail there with the engine's error.
  assert.deepEqual(prepareInput("1 +* 2"), { kind: "complete", code: "1 +* 2" });
  assert.deepEqual(prepareInput("'unterminated"), { kind: "complete", code: "'unterminated" });
});

test("decodeValue: values print as node prints them", () => {
  const shown = (encoded: unknown) => inspect(decodeValue(encoded));
  assert.equal(shown({ t: "u" }), "undefined");
  assert.equal(shown({ t: "n", v: "-0" }), "-0");
  assert.equal(shown({ t: "n", v: "NaN" }), "NaN");
  assert.equal(shown({ t: "b", v: "12" }), "12n");
  assert.equal(shown({ t: "s", v: "k" }), "Symbol(k)");
  assert.equal(shown({ t: "f", n: "add", c: false }), "[Function: add]");
  assert.equal(shown({ t: "f", n: "K", c: true }), "[class K]");
  assert.equal(shown({ t: "D", v: 0 }), "1970-01-01T00:00:00.000Z");
  assert.equal(shown({ t: "r", s: "a+", f: "g" }), "/a+/g");
  assert.equal(shown({ t: "M", v: [[1, "one"]], more: 0 }), "Map(1) { 1 => 'one' }");
  assert.equal(shown({ t: "T", v: [1, 2], more: 0 }), "Set(2) { 1, 2 }");
  assert.equal(shown({ t: "o", k: "Point", v: [["x", 1]], more: 0 }), "Point { x: 1 }");
  assert.equal(shown({ t: "o", k: "Object", v: [["self", { t: "c" }]], more: 0 }), "{ self: [Circular] }");
  // (Under the test runner, async hooks add symbols to promises: only the start is compared.)
  assert.match(shown({ t: "p", ok: true, v: 5 }), /^Promise \{\s+5\b/);
  const long = shown({ t: "a", v: Array.from({ length: 100 }, (_, i) => i), more: 50 });
  assert.equal(long, inspect(Array.from({ length: 150 }, (_, i) => i)));
  const error = decodeValue({ t: "e", n: "TypeError", m: "boom", s: "TypeError: boom\n    at <eval> (<input>:3:9)" });
  assert.ok(error instanceof TypeError);
  assert.equal((error as Error).stack, "TypeError: boom\n    at <eval> (REPL:3)");
});

test("thrownBy: what an input threw, apart from what it evaluated to", () => {
  assert.deepEqual(thrownBy({ t: "x", v: 1 }), { thrown: 1 });
  assert.deepEqual(thrownBy({ t: "x", v: { t: "u" } }), { thrown: undefined });
  assert.equal(thrownBy(1), undefined);
  assert.equal(thrownBy({ t: "o", k: "Object", v: [], more: 0 }), undefined);
});

test("cleanStack: the input's frames only, placed by REPL line; a header when the engine gives none", () => {
  const v8 = [
    "Error: e",
    "    at f (eval at eval (<anonymous>:263:35), <anonymous>:1:79)",
    "    at eval (eval at eval (<anonymous>:263:35), <anonymous>:2:1)",
    "    at eval (<anonymous>)",
    "    at default (repl:65:19)",
  ].join("\n");
  assert.equal(cleanStack(v8, "Error: e"), "Error: e\n    at f (REPL:1)\n    at eval (REPL:2)");
  const quickjs = "    at <eval> (<input>:1:25)\n    at eval (native)\n    at default (repl:65:27)\n";
  assert.equal(cleanStack(quickjs, "Error: no"), "Error: no\n    at <eval> (REPL:1)");
  assert.equal(cleanStack("", "RangeError: r"), "RangeError: r");
});
