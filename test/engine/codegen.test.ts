// The host side of code generation from strings: instruments, answers syntax errors as data,
// finds a function's own text, and keeps what a guest made within bounds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GuestCode } from "../../src/engine/codegen.js";

test("eval code is instrumented; a syntax error or a reserved name comes back as a message", () => {
  const code = new GuestCode(() => undefined);
  const made = code.compile("eval", "while (x) x--", "");
  assert.equal(made[0], "1");
  assert.match(made, /__wardenF/);
  assert.match(code.compile("eval", "let = ;", ""), /^0Unexpected token/);
  assert.match(code.compile("eval", "__wardenF = 1", ""), /^0identifiers starting with __warden are reserved/);
  assert.match(code.compile("normal", "a", "return a"), /^1\(function anonymous\(a\n\) \{/);
  assert.match(code.compile("normal", "){", "}"), /^0/);
  assert.equal(code.compile("normal", "a) {}, function (", ""), "0Arg string terminates parameters early");
  assert.equal(code.compile("bogus", "", ""), "0unknown code generation mode bogus");
});

test("a function made from a string shows its own text; another run's large code is not kept for it", () => {
  const run = new GuestCode(() => undefined);
  const made = run.compile("normal", "a, b", "return a + b").slice(1);
  const fn = made.slice(1, -1); // the engine's text of the function: without the parentheses
  assert.equal(run.original(fn), "function anonymous(a, b\n) {\nreturn a + b\n}");
  assert.equal(run.original("function unknown() {}"), "");

  const big = `function big(x) { ${"x++;\n".repeat(20_000)} }`;
  const first = new GuestCode(() => undefined);
  const compiled = first.compile("eval", big, "").slice(1);
  assert.equal(first.original(compiled), big);
  const second = new GuestCode(() => undefined);
  assert.equal(second.original(compiled), "", "code over the shared cache's size belongs to its run only");
});
