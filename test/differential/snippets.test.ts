// Targeted programs, raw vs Warden on each engine: the constructs the
// instrumentation touches (function bodies, loops, catch/finally, await/yield,
// directives, completion values, eval and the function constructors, with,
// toString) in small programs, so that a difference names its construct. The
// corpus (differential.test.ts) covers the same ground with real packages.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Runtime, RunResult } from "../../src/index.js";
import type { EngineName } from "../../src/engine/index.js";
import { TEST_ENGINES, testRuntime } from "../helpers/runtime.js";
import { PREPARATION_MODES, startRawRunner, type RawRunner } from "./raw.js";
import type { RawOutcome } from "./raw-protocol.js";

interface Snippet {
  readonly name: string;
  readonly source: string;
  /** `.mjs` for an ES module (default: a script). */
  readonly filename?: string;
  /** A known Warden bug (or undecided difference) on these engines: runs as a node:test `todo`. */
  readonly known?: { readonly engines: readonly EngineName[]; readonly cause: string };
}

const SNIPPETS: readonly Snippet[] = [
  { name: "with-obj", source: "var o = { x: 1 }; with (o) { (function () { x = 2 })() } o.x" },
  {
    name: "toString-fn",
    source:
      "[(function f(a) { return a }).toString(), (() => 1).toString(), (async function* g() { yield 1 }).toString(), class A { m() { return 1 } get x() { return 2 } }.toString()]",
  },
  {
    name: "toString-builtins",
    source:
      "[Function.toString(), eval.toString(), Function.name, Function.length, eval.name, eval.length, Object.getPrototypeOf(function*(){}).constructor.toString()]",
  },
  {
    name: "identity",
    source:
      "[Function.prototype.constructor === Function, (function(){}).constructor === Function, Object.getPrototypeOf(Function) === Function.prototype, Function instanceof Function, typeof Function.prototype, Object.getOwnPropertyNames(Function).sort().join(), Object.getOwnPropertyNames(globalThis).filter(n => /eval|Function|input|console/.test(n)).sort().join()]",
  },
  {
    name: "direct-eval-scope",
    source:
      "function f() { var x = 1; eval('var y = x + 1'); return [y, eval('x + y'), typeof eval('let z = 3; z')] } f()",
  },
  {
    name: "eval-completion",
    source:
      "[eval('for (var i = 0; i < 3; i++) i'), eval('1;;'), eval('{}'), eval('function g() {}'), eval(5), eval('if (true) { \"a\" } else { \"b\" }'), eval('do { 7 } while (false)'), eval('L: { 8; break L }')]",
  },
  {
    name: "indirect-eval",
    source:
      "var gx = 'global'; function f() { var gx = 'local'; return [(0, eval)('gx'), eval?.('gx'), eval('gx'), globalThis.eval('typeof this')] } f()",
  },
  {
    name: "function-ctor",
    source:
      "[Function('a', 'b', 'return a + b')(1, 2), new Function('...args', 'return args.length')(1, 2, 3), Function('a = 1', 'return a')(), Function('a,b', 'return b')(1, 2), new Function('return arguments.length')(1, 2, 3), Function('return this')() === globalThis, new Function('a', 'return a').toString()]",
  },
  {
    name: "generator-ctor",
    source:
      "const G = Object.getPrototypeOf(function* () {}).constructor; const AF = Object.getPrototypeOf(async function () {}).constructor; Promise.all([[...G('a', 'yield a; yield a * 2')(3)], AF('x', 'return await x')(4)])",
  },
  {
    name: "eval-strict",
    source:
      "function f() { 'use strict'; eval('var q = 1'); return typeof q } [f(), (function () { eval('var q2 = 1'); return typeof q2 })()]",
  },
  {
    name: "eval-this-newtarget",
    source:
      "function F() { return eval('new.target') === F } class B { get x() { return 5 } } class C extends B { m() { return eval('super.x') } } [new F(), F(), new C().m(), (function () { return eval('this') }).call(7) + 0]",
  },
  {
    name: "eval-syntaxerror",
    source:
      "const r = []; for (const s of ['1 +', 'let let = 1', 'return 1', 'yield 1', 'await 1', 'break']) { try { eval(s); r.push('ok') } catch (e) { r.push(e.name) } } r",
  },
  {
    name: "eval-arguments",
    source: "function f(a) { eval('a = 2'); return [a, arguments[0], eval('arguments.length')] } f(1, 9)",
  },
  {
    name: "catch-destructure",
    source:
      "const out = []; try { throw { a: 1, b: [2, 3] } } catch ({ a, b: [, c] }) { out.push(a, c); (() => out.push(a + c))() } try { throw null } catch { out.push('bare') } out",
  },
  {
    name: "catch-destructure-default",
    source: "let r; try { throw {} } catch ({ a = 5, ...rest }) { r = [a, Object.keys(rest)] } r",
  },
  {
    name: "finally-completion",
    source:
      "[eval('try { 1 } finally { 2 }'), eval('try { throw 0 } catch (e) { 3 } finally { 4 }'), (() => { try { return 'a' } finally { 'b' } })(), (() => { L: try { return 'x' } finally { break L } return 'y' })()]",
  },
  {
    name: "label-continue",
    source:
      "let s = ''; outer: for (let i = 0; i < 3; i++) { inner: for (let j = 0; j < 3; j++) { if (j === 1) continue outer; if (i === 2) break outer; s += i + '' + j } } s",
  },
  { name: "do-while-asi", source: "let x = 0\ndo x++\nwhile (x < 3)\nx" },
  {
    name: "arrow-object",
    source:
      "const f = () => ({ a: 1 }), g = (a, b = a + 1) => [a, b], h = async x => await x; Promise.all([f(), g(1), h(3), f.length, g.length])",
  },
  {
    name: "fn-length-name",
    source:
      "function f(a, b = 1, ...c) {} const o = { m() {}, get p() { return 1 }, ['x' + 1]: () => {} }; [f.length, f.name, o.m.name, Object.getOwnPropertyDescriptor(o, 'p').get.name, o.x1.name, (class { static s() {} }).s.name]",
  },
  {
    name: "arguments-mapped",
    source:
      "function f(a) { arguments[0] = 9; return a } function g(a) { a = 5; return arguments[0] } [f(1), g(1), (function () { return arguments.callee.name })()]",
  },
  {
    name: "generator-return",
    source:
      "function* g() { try { yield 1; yield 2 } finally { yield 3 } } const it = g(); [it.next(), it.return(7), it.next(), it.next()]",
  },
  {
    name: "microtask-order",
    source:
      "const log = []; (async () => { log.push('a'); await undefined; log.push('c'); await undefined; log.push('e') })(); Promise.resolve().then(() => log.push('b')).then(() => log.push('d')).then(() => log.push('f')); Promise.resolve().then(() => 0).then(() => 0).then(() => 0).then(() => 0).then(() => log)",
  },
  {
    name: "thenable-order",
    source:
      "const log = []; async function f() { return { then(r) { log.push('then'); r(1) } } } f().then(v => log.push('v' + v)); Promise.resolve().then(() => log.push('p1')).then(() => log.push('p2')).then(() => log.push('p3')); new Promise(r => r()).then(()=>0).then(()=>0).then(()=>0).then(()=>0).then(() => log)",
  },
  {
    name: "getter-this",
    source:
      "const o = { _v: 2, get v() { return this._v * 2 }, set v(x) { this._v = x } }; o.v = 5; [o.v, Object.keys(o)]",
  },
  {
    name: "class-fields",
    source:
      "class A { #p = 1; x = this.#p + 1; static s = A.name; static { A.t = this.s + '!' } m = () => this.x; get p() { return this.#p } } const a = new A(); [a.x, A.s, A.t, a.m(), a.p, Object.keys(a)]",
  },
  { name: "completion-loop", source: "for (var i = 0; i < 3; i++) i * 10" },
  { name: "completion-if", source: "if (true) { 'then' }" },
  { name: "completion-decl-last", source: "1; var z = 5" },
  { name: "completion-try", source: "try { 'a' } finally { 'b' }" },
  { name: "completion-switch", source: "switch (2) { case 1: 'one'; break; case 2: 'two'; break }" },
  { name: "completion-block-empty", source: "1; {}" },
  { name: "completion-while-break", source: "let i = 0; while (true) { i++; if (i > 3) break; i }" },
  { name: "sloppy-this", source: "[typeof this, this === globalThis, (function () { return this })() === globalThis]" },
  {
    name: "global-var",
    source:
      "var gv = 1; function gf() {} [Object.getOwnPropertyDescriptor(globalThis, 'gv'), typeof globalThis.gf, Object.keys(globalThis)]",
  },
  {
    // The timers, datastore(), spawn(), parallel() and fetch() are Warden's host-backed globals, which the raw engine cannot have.
    name: "global-names",
    source:
      "const own = ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'datastore', 'spawn', 'parallel', 'fetch'];\n" +
      "Object.getOwnPropertyNames(globalThis).filter(n => !/^[A-Z]/.test(n) && !own.includes(n)).sort()",
  },
  { name: "string-raw", source: "String.raw`a${1}\\nb` + (x => x)`q`" },
  {
    name: "regex-lastindex",
    source:
      "const r = /a/g; r.test('aa'); [r.lastIndex, 'x'.replace(/x/, '$&$&'), /(?<y>\\d{4})/.exec('in 2024').groups.y]",
  },
  {
    name: "tagged-cache",
    source: "const seen = []; const t = s => seen.push(s); for (let i = 0; i < 2; i++) t`x`; seen[0] === seen[1]",
  },
  { name: "new-function-lines", source: "new Function('a', 'b', 'return a').toString().split('\\n')" },
  { name: "fn-toString-default", source: "(function (a = () => { return 1 }) { while (false) {} }).toString()" },
  {
    name: "fn-ctor-comments",
    source:
      "[Function('return 1 // c')(), Function('a //', 'return a')(4), Function('a', 'b', '').length, Function('').name, Function.prototype.toString.call(eval), Function('a /* x */', 'return a').toString()]",
  },
  { name: "eval-param-default", source: "function f(a = eval('1'), b = eval('a + 1')) { return [a, b] } f()" },
  {
    name: "eval-global-fn",
    source:
      "eval('function h() { return 1 }'); [h(), typeof globalThis.h, eval('x9 = 1'), eval('var y9 = 1'), typeof y9]",
  },
  { name: "eval-in-with", source: "var o = { a: 1 }; with (o) { eval('a = 2; var b = 3') } [o.a, typeof b, o.b]" },
  { name: "eval-in-arrow-args", source: "function f() { return (() => eval('arguments.length'))() } f(1, 2, 3)" },
  {
    name: "eval-module",
    source:
      "export default function () { eval('var x = 1'); return [typeof x, typeof this, (0, eval)('typeof this')] }",
    filename: "m.mjs",
  },
  {
    name: "async-gen-ctor",
    source:
      "const AG = Object.getPrototypeOf(async function* () {}).constructor; (async () => { const out = []; for await (const v of AG('yield 1; yield 2')()) out.push(v); return [out, AG.name, AG('').toString()] })()",
  },
  {
    name: "reflect-construct",
    source:
      "class A { constructor() { this.t = new.target.name } } class B extends A {} [Reflect.construct(A, [], B).t, new B().t, Reflect.apply(Math.max, null, [1, 3])]",
  },
  {
    name: "proxy-apply",
    source:
      "const p = new Proxy(function (a) { return a * 2 }, { apply: (t, th, args) => t(...args) + 1 }); [p(2), typeof p, p.length]",
  },
  {
    name: "symbol-iterator-gen",
    source: "const o = { *[Symbol.iterator]() { yield* [1, 2]; return 3 } }; [[...o], Array.from(o).length]",
  },
  {
    name: "sort-stability",
    source: "Array.from({ length: 20 }, (_, i) => ({ k: i % 3, i })).sort((a, b) => a.k - b.k).map(x => x.i)",
  },
  { name: "deep-json", source: "JSON.parse('['.repeat(2000) + ']'.repeat(2000)).length" },
  {
    name: "error-props",
    source:
      "const e = new TypeError('m', { cause: 1 }); [Object.keys(e), e.cause, 'stack' in e, Object.getOwnPropertyNames(e).sort()]",
  },
  { name: "fn-caller", source: "function f() { return f.caller === g } function g() { return f() } g()" },
  { name: "fn-arguments-prop", source: "function f() { return f.arguments.length } f(1, 2)" },
  {
    name: "fn-props",
    source: "function f() {} [Object.getOwnPropertyNames(f).sort(), Object.getOwnPropertyNames(() => 1).sort()]",
  },
  {
    // Inside `with`, names are looked up on the object first; the instrumentation's own
    // names must never resolve there (hostile.test.ts checks the limits hold too).
    name: "with-has-everything",
    source:
      "const seen = {}; with (new Proxy(seen, { has: () => true })) { (function () {})(); for (let i = 0; i < 2; i++) {} } Object.keys(seen)",
  },
  {
    // Raw QuickJS builds a function's source by concatenating the parameter and body
    // strings, so `Function("/*", "*/){")` compiles; V8 and Warden (on both engines)
    // parse the parameters on their own and throw a SyntaxError.
    name: "function-constructor-parameter-injection",
    source:
      "const r = []; for (const args of [['/*', '*/){'], ['}, function() {'], ['a', '}; (function(){'], ['', '})(); (function(){']]) { try { r.push(typeof Function(...args)) } catch (e) { r.push(e.name) } } r",
    known: {
      engines: ["quickjs"],
      cause: "raw QuickJS concatenates Function() parameters; Warden parses them as V8 does",
    },
  },
  {
    // Function declarations that have to stay at the function's own level (their name
    // clashes with another declaration, a var or a parameter), starting right where the
    // prologue goes (`{function g`, or `"use strict";function g`), as in minified code.
    name: "clashing-declaration-at-body-start",
    source:
      "function f() {function g() { return 1 } function g() { return 2 } return g() }\n" +
      "function h(a) {function a() {} return typeof a }\n" +
      "function k() {'use strict';function g() { return 3 }var x;function g() { return 4 } return g() }\n" +
      "[f(), h(1), k()]",
  },
  {
    // V8 accepts a call as an assignment target in sloppy code (it throws a ReferenceError
    // only if run); Warden's parser refuses the whole program ("Assigning to rvalue").
    // Raw QuickJS refuses it too.
    name: "call-as-assignment-target",
    source: "function f() { c() = 1; --c(); for (c() in {}); }\n'parsed'",
    known: { engines: ["v8"], cause: "acorn refuses a call as an assignment target, which V8 accepts in sloppy code" },
  },
  {
    // V8 words a failed call of an immediately called function literal with one
    // "(intermediate value)" raw and two under Warden: it prints the instrumented body.
    name: "called-function-literal-message",
    source: "try { (function () {})()(0) } catch (e) { e.message }",
    known: { engines: ["v8"], cause: "V8's message names the instrumented function literal twice" },
  },
  {
    // V8 reports a failed call in the operand of `yield*` as `yield* (intermediate value)
    // is not iterable` raw; under Warden the operand is evaluated before the `yield*`, so
    // the message is the call's own: `[1,2] is not a function`.
    name: "yield-star-operand-call-message",
    source: "function* g() { yield* [1, 2]('s') } try { [...g()] } catch (e) { e.message }",
    known: { engines: ["v8"], cause: "the yield* operand is evaluated outside the yield*, which changes V8's message" },
  },
  {
    // Raw QuickJS skips the `finally` when the catch parameter's pattern fails to
    // destructure the thrown value; Warden destructures inside the catch block, so the
    // `finally` runs, as the specification and V8 say.
    name: "catch-pattern-throws-finally",
    source:
      "const r = []; try { try { throw 1 } catch ([m]) { r.push('catch') } finally { r.push('finally') } } catch (e) { r.push(e.name) } r",
    known: { engines: ["quickjs"], cause: "raw QuickJS skips finally after a failed catch pattern; Warden runs it" },
  },
  {
    // Raw QuickJS does not take `'use strict'` ended by a line break as a directive when
    // the next line starts with `{`, `!`, `void` or `await`; Warden ends the directive
    // with a semicolon, so the function is strict, as the specification and V8 say.
    name: "directive-then-line-break",
    source: "function f() {\n  'use strict'\n  { return typeof this }\n}\nf()",
    known: { engines: ["quickjs"], cause: "raw QuickJS misses a directive ended by a line break before `{`" },
  },
  {
    // Raw QuickJS accepts `var x` and `let x` in one block when the var is also declared
    // outside it; Warden (and V8) refuse the program with a SyntaxError.
    name: "var-let-redeclaration",
    source: "var x = 1\ntry { var x = 0\nlet x = 2 } catch (e) {}\n'parsed'",
    known: { engines: ["quickjs"], cause: "raw QuickJS accepts a var/let redeclaration in a block; Warden refuses it" },
  },
];

type Observed = { ok: true; value: unknown } | { ok: false; threw: string };

/** A SyntaxError's message is the engine's raw and Warden's parser's under Warden: the class must agree. */
function threw(name: string, message: string): Observed {
  return { ok: false, threw: name === "SyntaxError" ? name : `${name}: ${message}` };
}

function fromRaw(outcome: RawOutcome): Observed {
  if (!outcome.ok) return threw(outcome.name, outcome.message);
  return { ok: true, value: outcome.json === "" ? undefined : JSON.parse(outcome.json) };
}

function fromWarden(result: RunResult): Observed {
  if (result.ok) return { ok: true, value: result.value };
  const error = result.error as { name: string; message: string; guestName?: string; guestMessage?: string };
  return error.guestName ? threw(error.guestName, error.guestMessage ?? "") : threw(error.name, error.message);
}

for (const engine of TEST_ENGINES)
  for (const { mode, maxInstructions } of PREPARATION_MODES) {
    describe(`differential snippets: raw vs Warden [${engine}, ${mode}]`, () => {
      let runtime: Runtime;
      let raw: RawRunner;
      before(async () => {
        raw = startRawRunner(engine);
        runtime = await testRuntime(engine, {
          limits: {
            maxInstructions,
            maxRecursionDepth: -1,
            memoryBytes: -1,
            timeoutMs: 20_000,
            allowCodeGeneration: true,
          },
        });
      });
      after(async () => {
        await runtime?.close();
        await raw?.close();
      });

      for (const snippet of SNIPPETS) {
        const todo = snippet.known?.engines.includes(engine) ? snippet.known.cause : undefined;
        test(snippet.name, { timeout: 60_000, ...(todo ? { todo } : {}) }, async () => {
          const filename = snippet.filename ?? "snippet.js";
          const kind = filename.endsWith(".mjs") ? "module" : "script";
          const expected = fromRaw(await raw.run(snippet.source, { kind, filename, inputJson: "null" }));
          const actual = fromWarden(await runtime.run(snippet.source, { filename }));
          assert.deepEqual(actual, expected, `${snippet.name} [${engine}]: ${snippet.source}`);
        });
      }
    });
  }
