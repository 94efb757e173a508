import { parse, type Node } from "acorn";
import MagicString from "magic-string";
import { inspect } from "node:util";

/**
 * The module a REPL loads as its warm app. Each input arrives as the call's
 * input (a string) and runs through an indirect `eval`: a global script, so
 * `var` and function declarations (and the `let`/`const`/`class` declarations
 * {@link prepareInput} turns into `var`) become globals of the instance and
 * stay there for later inputs. The instance's `eval` is Warden's instrumented
 * one, so every input runs under the call's limits.
 *
 * Values cross the sandbox's edge as JSON, so the completion value is encoded
 * here into a JSON description ({@link Encoded}) that {@link decodeValue}
 * turns back into something `util.inspect` prints as node would. The
 * description is bounded (nodes, depth, string length), so printing a huge
 * value never trips the value-size limit (which would recycle the instance).
 */
export const REPL_GUEST_SOURCE = `
const evaluate = (0, eval);
const MAX_NODES = 2000, MAX_DEPTH = 6, MAX_ITEMS = 100, MAX_STRING = 10000;
function encode(value) {
  let nodes = 0;
  const seen = [];
  const enc = (v, depth) => {
    nodes++;
    switch (typeof v) {
      case "undefined": return { t: "u" };
      case "number": return Number.isFinite(v) && !Object.is(v, -0) ? v : { t: "n", v: Object.is(v, -0) ? "-0" : String(v) };
      case "boolean": return v;
      case "string": return v.length > MAX_STRING ? { t: "S", v: v.slice(0, MAX_STRING), more: v.length - MAX_STRING } : v;
      case "bigint": return { t: "b", v: String(v) };
      case "symbol": return { t: "s", v: v.description === undefined ? null : v.description };
      case "function": {
        let text = "";
        try { text = Function.prototype.toString.call(v); } catch {}
        return { t: "f", n: typeof v.name === "string" ? v.name : "", c: /^class[\\s{]/.test(text) };
      }
    }
    if (v === null) return null;
    if (seen.includes(v)) return { t: "c" };
    if (depth >= MAX_DEPTH || nodes > MAX_NODES) return { t: "d", a: Array.isArray(v) };
    seen.push(v);
    try {
      const items = (list) => {
        const out = [];
        for (const item of list) {
          if (out.length >= MAX_ITEMS || nodes > MAX_NODES) break;
          out.push(item);
        }
        return out;
      };
      if (Array.isArray(v)) {
        const out = items(v.keys()).map((i) => enc(v[i], depth + 1));
        return { t: "a", v: out, more: v.length - out.length };
      }
      if (v instanceof Date) return { t: "D", v: v.getTime() };
      if (v instanceof RegExp) return { t: "r", s: v.source, f: v.flags };
      if (v instanceof Error) return { t: "e", n: String(v.name), m: String(v.message), s: String(v.stack || "") };
      if (v instanceof Map) {
        const out = items(v.entries()).map(([k, x]) => [enc(k, depth + 1), enc(x, depth + 1)]);
        return { t: "M", v: out, more: v.size - out.length };
      }
      if (v instanceof Set) {
        const out = items(v.values()).map((x) => enc(x, depth + 1));
        return { t: "T", v: out, more: v.size - out.length };
      }
      const keys = Object.keys(v);
      const out = items(keys).map((k) => [k, enc(v[k], depth + 1)]);
      let name = "Object";
      try {
        const proto = Object.getPrototypeOf(v);
        name = proto === null ? "" : typeof proto.constructor === "function" ? String(proto.constructor.name) : "Object";
      } catch {}
      return { t: "o", k: name, v: out, more: keys.length - out.length };
    } finally {
      seen.pop();
    }
  };
  return enc(value, 0);
}
export default async function (source) {
  let value;
  try {
    value = evaluate(source);
    if (value !== null && (typeof value === "object" || typeof value === "function") && typeof value.then === "function") {
      try {
        return { t: "p", ok: true, v: encode(await value) };
      } catch (error) {
        return { t: "p", ok: false, v: encode(error) };
      }
    }
  } catch (error) {
    // The input threw: the thrown value itself is described (limits cannot be caught here).
    return { t: "x", v: encode(error) };
  }
  return encode(value);
}
`;

type Encoded = unknown;

function named(name: string, isClass: boolean): object {
  // A stub util.inspect prints as [Function: name] or [class name].
  const stub = isClass ? class {} : function () {};
  Object.defineProperty(stub, "name", { value: name });
  return stub;
}

/** An object util.inspect prints as `text`, verbatim. */
function marker(text: string): object {
  return { [inspect.custom]: () => text };
}

/**
 * A guest stack as the REPL shows it: the frames of the input only (the REPL's own module and the
 * sandbox's eval plumbing are cut off), each placed as `REPL:LINE` (columns are left out: they count
 * in the instrumented text), with a `Name: message` first line when the engine gives none (QuickJS).
 */
export function cleanStack(stack: string, header: string): string {
  const out: string[] = [];
  for (const line of stack.split("\n")) {
    const frame = /^\s+at /.test(line);
    if (frame && /^\s+at eval \((<anonymous>|native)\)$/.test(line)) break;
    if (!frame && out.some((l) => /^\s+at /.test(l))) break;
    out.push(
      line
        .replace(/eval at eval \(<anonymous>:\d+:\d+\), <anonymous>:(\d+):\d+/, "REPL:$1")
        .replace(/<input>:(\d+):\d+/, "REPL:$1"),
    );
  }
  while (out.length > 0 && out[out.length - 1]!.trim() === "") out.pop();
  if (out.length === 0 || /^\s+at /.test(out[0]!)) out.unshift(header);
  return out.join("\n");
}

/** Turns the guest's description of a value back into a host value that prints as the guest's would. */
export function decodeValue(encoded: Encoded): unknown {
  if (encoded === null || typeof encoded !== "object") return encoded;
  const e = encoded as Record<string, unknown> & { t: string };
  const more = (n: unknown): object[] => (typeof n === "number" && n > 0 ? [marker(`... ${n} more items`)] : []);
  switch (e.t) {
    case "u":
      return undefined;
    case "n":
      return Number(e["v"]);
    case "S":
      return `${String(e["v"])}... ${String(e["more"])} more characters`;
    case "b":
      return BigInt(String(e["v"]));
    case "s":
      return Symbol(e["v"] === null ? undefined : String(e["v"]));
    case "f":
      return named(String(e["n"]), e["c"] === true);
    case "c":
      return marker("[Circular]");
    case "d":
      return marker(e["a"] === true ? "[Array]" : "[Object]");
    case "a": {
      // The array's real length, with holes past the items sent: util.inspect (whose default
      // maxArrayLength is the guest's MAX_ITEMS, 100) prints "... N more items" as node does.
      const items = (e["v"] as Encoded[]).map(decodeValue);
      if (typeof e["more"] === "number" && e["more"] > 0) {
        const shown = items.length;
        // The first hidden slot is never printed, but util.inspect looks at its type to align
        // numbers: a copy of the last item keeps node's alignment.
        if (shown > 0) items.push(items[shown - 1]);
        items.length = shown + e["more"];
      }
      return items;
    }
    case "D":
      return new Date(Number(e["v"]));
    case "r":
      return new RegExp(String(e["s"]), String(e["f"]));
    case "e": {
      // An error of a class of the guest's error's name, so that util.inspect shows it as node would.
      const name = String(e["n"]);
      const builtin = (globalThis as Record<string, unknown>)[name];
      const ErrorClass =
        typeof builtin === "function" &&
        (builtin === Error || builtin.prototype instanceof Error) &&
        (builtin as { length: number }).length <= 1
          ? (builtin as ErrorConstructor)
          : ({ [name]: class extends Error {} } as Record<string, ErrorConstructor>)[name]!;
      const error = new ErrorClass(String(e["m"]));
      if (error.name !== name) {
        Object.defineProperty(error, "name", { value: name, enumerable: false, configurable: true });
      }
      error.stack = cleanStack(String(e["s"]), `${String(e["n"])}: ${String(e["m"])}`);
      return error;
    }
    case "M":
      return new Map((e["v"] as [Encoded, Encoded][]).map(([k, v]) => [decodeValue(k), decodeValue(v)]));
    case "T":
      return new Set((e["v"] as Encoded[]).map(decodeValue));
    case "p": {
      const value = decodeValue(e["v"]);
      if (e["ok"] === true) return Promise.resolve(value);
      const rejected = Promise.reject(value as Error);
      rejected.catch(() => {});
      return rejected;
    }
    case "o": {
      const name = String(e["k"]);
      const proto =
        name === "Object"
          ? Object.prototype
          : name === ""
            ? null
            : (named(name, false) as { prototype: object }).prototype;
      const target = Object.create(proto) as Record<string, unknown>;
      for (const [key, value] of e["v"] as [string, Encoded][]) target[key] = decodeValue(value);
      const rest = more(e["more"]);
      if (rest.length > 0) target["..."] = rest[0];
      return target;
    }
    default:
      return encoded;
  }
}

/** The description of what an input threw, when it threw (node prints it after `Uncaught `). */
export function thrownBy(encoded: unknown): { thrown: unknown } | undefined {
  if (encoded === null || typeof encoded !== "object" || (encoded as { t?: unknown }).t !== "x") return undefined;
  return { thrown: decodeValue((encoded as { v: unknown }).v) };
}

/** What {@link prepareInput} makes of an input. */
export type PreparedInput = { kind: "complete"; code: string } | { kind: "incomplete" };

function parseScript(code: string): Node {
  return parse(code, { ecmaVersion: "latest", sourceType: "script", allowHashBang: false });
}

function isRecoverable(error: unknown, code: string): boolean {
  const { message, pos } = error as { message?: string; pos?: number };
  if (typeof message !== "string") return false;
  if (/^Unterminated (template|comment)/.test(message)) return true;
  if (/^Unterminated string constant/.test(message)) return false;
  return typeof pos === "number" && pos >= code.trimEnd().length;
}

/**
 * Prepares one REPL input: `incomplete` when the statement goes on (an open
 * brace, template, comment or an expression cut short), else the code to
 * evaluate. As node's REPL does, an input that starts with `{` and parses as
 * an expression is taken as an object literal. Top-level `let` and `const`
 * become `var`, and `class X {}` becomes `var X = class X {}`, so that they
 * stay visible to later inputs (a `const` can therefore be assigned again, and
 * declared again, as a REPL's redeclaration allows). Code that does not parse
 * for another reason goes to the sandbox unchanged, to fail there with the
 * engine's own SyntaxError.
 */
export function prepareInput(input: string): PreparedInput {
  const trimmed = input.trim();
  if (/^\{/.test(trimmed) && !/;\s*$/.test(trimmed)) {
    try {
      parseScript(`(${input}\n)`);
      return { kind: "complete", code: `(${input}\n)` };
    } catch {
      // not an object literal: a block
    }
  }
  let program: Node;
  try {
    program = parseScript(input);
  } catch (error) {
    if (isRecoverable(error, input)) return { kind: "incomplete" };
    return { kind: "complete", code: input };
  }
  const code = new MagicString(input);
  for (const statement of (program as unknown as { body: Node[] }).body) {
    const node = statement as Node & { kind?: string; id?: { name: string } | null };
    if (node.type === "VariableDeclaration" && (node.kind === "let" || node.kind === "const")) {
      code.overwrite(node.start, node.start + node.kind.length, "var");
    } else if (node.type === "ClassDeclaration" && node.id) {
      code.appendLeft(node.start, `var ${node.id.name} = `);
      code.appendRight(node.end, ";");
    }
  }
  return { kind: "complete", code: code.toString() };
}
