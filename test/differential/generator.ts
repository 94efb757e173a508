/**
 * Random programs for the differential test: statements built from the
 * constructs the instrumentation rewrites (function bodies and directives,
 * loops with and without braces, labels, try/catch/finally with destructuring
 * parameters, generators and `yield`, async functions and `await`, arrow
 * functions), joined with or without semicolons so that automatic semicolon
 * insertion has its say. Every loop is bounded; a program records what it saw
 * in `out` and its result is `out` once its async calls have settled.
 */
import fc from "fast-check";

type Context = "top" | "function" | "generator" | "async";

const NAMES = ["a", "b", "c"];

function expression(depth: number): fc.Arbitrary<string> {
  const leaves = fc.oneof(
    fc.integer({ min: -3, max: 9 }).map(String),
    fc.constantFrom(...NAMES),
    fc.constantFrom('"s"', "null", "undefined", "true", "[]", "{}", "/a+/g.test('aa')", "typeof a", "b++", "(--c)"),
  );
  if (depth <= 0) return leaves;
  const sub = expression(depth - 1);
  return fc.oneof(
    { weight: 3, arbitrary: leaves },
    fc
      .tuple(sub, fc.constantFrom("+", "-", "*", "<", "===", "&&", "||", "??", ","), sub)
      .map(([l, op, r]) => `(${l} ${op} ${r})`),
    fc.tuple(sub, sub).map(([l, r]) => `[${l}, ${r}]`),
    sub.map((e) => `\`t\${${e}}\``),
    sub.map((e) => `(() => ${e})()`),
    sub.map((e) => `(() => { return ${e} })()`),
    sub.map((e) => `h(${e})`),
    fc.tuple(sub, sub, sub).map(([c, t, e]) => `(${c} ? ${t} : ${e})`),
    sub.map((e) => `({ k: ${e}, get g() { return ${e} } }).g`),
    // Parenthesised: `--c` or `-(-1)` must not meet a call on the next line, `--c\n(0)`, an
    // assignment to a call that V8 accepts and Warden refuses (snippets.test.ts, "call-as-assignment-target").
    sub.map((e) => `-(${e})`),
  );
}

/** What may start a statement in this context, beyond the common ones. */
function special(context: Context, depth: number): fc.Arbitrary<string>[] {
  const e = expression(depth);
  if (context === "generator") {
    return [
      e.map((x) => `yield ${x}`),
      fc.constant("yield"),
      e.map((x) => `a = yield ${x}`),
      // With its semicolon: `yield* [1, 2]\n(0)` calls the array, and V8 words that error
      // differently under Warden (snippets.test.ts, "yield-star-operand-call-message").
      fc.constant("yield* [1, 2];"),
      e.map((x) => `out.push(yield ${x})`),
    ];
  }
  if (context === "async") {
    return [
      e.map((x) => `await ${x}`),
      e.map((x) => `b = await ${x}`),
      fc.constant("await null"),
      e.map((x) => `out.push(await ${x})`),
      e.map((x) => `await (async () => ${x})()`),
    ];
  }
  return [];
}

/** Options of the generated programs. */
export interface ProgramOptions {
  /**
   * End a function's `"use strict"` with a line break alone, sometimes. Raw QuickJS
   * does not take such a directive when the next line starts with `{`, `!`, `void` or
   * `await` (snippets.test.ts, "directive-then-line-break"); Warden does, as V8 does.
   */
  readonly directiveByLineBreak: boolean;
}

function statement(
  context: Context,
  depth: number,
  separator: fc.Arbitrary<string>,
  options: ProgramOptions,
): fc.Arbitrary<string> {
  const e = expression(Math.min(depth, 2));
  const simple = fc.oneof(
    { weight: 4, arbitrary: e.map((x) => `out.push(${x})`) },
    { weight: 2, arbitrary: e },
    // `var` and `let`/`const` never share a name: raw QuickJS accepts some such redeclarations
    // in one block, Warden refuses them as V8 does (snippets.test.ts, "var-let-redeclaration").
    fc
      .tuple(fc.constantFrom("let x", "let y", "const x", "const y", "var u", "var w"), e)
      .map(([declaration, x]) => `${declaration} = ${x}`),
    fc.tuple(fc.constantFrom(...NAMES), e).map(([n, x]) => `${n} = ${x}`),
    e.map((x) => `[a, b] = [${x}, a]`),
    e.map((x) => `(${x})`),
    ...special(context, 1),
  );
  if (depth <= 0) return simple;
  const inner = statement(context, depth - 1, separator, options);
  const block = fc
    .array(fc.tuple(inner, separator), { minLength: 0, maxLength: 3 })
    .map((items) => items.map(([s, sep]) => `${s}${sep}`).join(""));
  const body = fc.oneof(
    inner,
    block.map((b) => `{ ${b} }`),
  );
  const functionBody = (kind: Context) =>
    fc
      .tuple(
        fc.boolean(),
        separator,
        fc.array(fc.tuple(statement(kind, depth - 1, separator, options), separator), { maxLength: 4 }),
        expression(1),
      )
      .map(
        ([strict, sep, items, result]) =>
          // Every separator ends in white space: a declaration right after `{` or `"use strict";`
          // that must be hoisted breaks the instrumenter (snippets.test.ts, "clashing-declaration-at-body-start").
          `{ ${strict ? `"use strict"${options.directiveByLineBreak ? sep : "; "}` : ""}${items.map(([s, s2]) => `${s}${s2}`).join("")}return ${result} }`,
      );
  return fc.oneof(
    { weight: 6, arbitrary: simple },
    fc
      .tuple(e, body, fc.option(body))
      .map(([c, t, f]) => (f === null ? `if (${c}) ${t}` : `if (${c}) ${t}\nelse ${f}`)),
    body.map((b) => `for (let i = 0; i < 2; i++) ${b}`),
    body.map((b) => `for (const v of [1, 2]) ${b}`),
    body.map((b) => `for (const k in { p: 1, q: 2 }) ${b}`),
    body.map((b) => `do ${b}\nwhile (false)`),
    block.map((b) => `L: for (let j = 0; j < 3; j++) { if (j === 1) continue L\n${b} if (j === 2) break L }`),
    block.map((b) => `M: { ${b} break M }`),
    block.map((b) => `{ ${b} }`),
    fc
      .tuple(
        block,
        // [parameter, what the catch block records]. No pattern that fails to destructure the
        // thrown Error: raw QuickJS then skips the `finally` (snippets.test.ts, "catch-pattern-throws-finally").
        fc.constantFrom(
          ["(e)", "e.message"],
          ["({ message })", "message"],
          ["", '"c"'],
          ["({ message: m = 1, ...r })", "[m, Object.keys(r)]"],
          ["({ message: [m] })", "m"],
        ),
        block,
        fc.option(block),
      )
      .map(
        ([t, [param, seen], c, f]) =>
          `try { ${t} throw new Error("E") } catch ${param} { out.push(${seen})\n${c} }${f === null ? "" : ` finally { ${f} }`}`,
      ),
    fc
      .tuple(fc.integer({ min: 0, max: 99 }), functionBody("function"))
      .map(([n, b]) => `function f${n}(p) ${b}\nout.push(f${n}(1))`),
    fc
      .tuple(fc.integer({ min: 0, max: 99 }), functionBody("generator"))
      .map(([n, b]) => `function* g${n}() ${b}\nout.push([...g${n}()])`),
    fc
      .tuple(fc.integer({ min: 0, max: 99 }), functionBody("async"))
      .map(
        ([n, b]) =>
          `async function a${n}() ${b}\npending.push(a${n}().then((v) => out.push(v), (e) => out.push(String(e))))`,
      ),
    functionBody("function").map((b) => `out.push(((p) => ${b})(2))`),
  );
}

/** A whole program: its completion value is a promise of `out`. */
export function program(options: ProgramOptions): fc.Arbitrary<string> {
  const separator = fc.constantFrom("\n", ";\n", "; ", "\n\n");
  return fc
    .tuple(
      fc.array(fc.tuple(statement("top", 3, separator, options), separator), { minLength: 1, maxLength: 6 }),
      separator,
    )
    .map(
      ([items, sep]) =>
        `var a = 1, b = 2, c = 3\nconst out = [], pending = []\nfunction h(v) { return typeof v === "number" ? v + 1 : v }\n` +
        items.map(([s, s2]) => `${s}${s2}`).join("") +
        // Async functions may start more of them: wait until none is left.
        `${sep}(async () => { for (let seen = 0; seen < pending.length; ) { seen = pending.length; await Promise.all(pending) } return out })()\n`,
    );
}
