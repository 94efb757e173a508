import { ancestor } from "acorn-walk";
import MagicString, { type SourceMap } from "magic-string";
import { boundNames } from "./bindings.js";
import { evalShadows } from "./eval-scope.js";
import {
  BOOT,
  BOOTED,
  CATCH,
  CATCH_PARAM,
  DEPTH,
  DIRECT_EVAL,
  DIRECT_EVAL_ARGS,
  DYNAMIC_IMPORT,
  FINALLY,
  FINISH,
  FUEL,
  MAX_DEPTH,
  SUSPENDED,
  TEMP,
  TRIP,
  READ_EVAL,
  WITH_SCOPE,
} from "./names.js";
import { FUNCTION_TYPES, childNodes, parseEvalCode, parseProgram, type AnyNode, type SourceKind } from "./parse.js";
import { ReverseMap } from "./reverse.js";

export { GuestSyntaxError, type SourceKind } from "./parse.js";

/** Output of {@link instrument}. */
export interface Instrumented {
  /** Instrumented JavaScript. */
  readonly code: string;
  /** Source map from `code` back to the input of `instrument`. */
  readonly map: SourceMap;
  /** Script or module, detected from the source. */
  readonly kind: SourceKind;
  /**
   * True when the script ends in an expression statement, now wrapped in
   * `__wardenFinish(...)`: the script's completion value is then a promise of
   * the serialised result, so an engine needs one call instead of two.
   */
  readonly finishesItself: boolean;
  /** Finds the original text of a range of `code` (what `Function.prototype.toString` shows). */
  readonly reverse: ReverseMap;
}

type FunctionNode = AnyNode & { async: boolean; generator: boolean; expression?: boolean; body: AnyNode };

/*
 * Every insertion below keeps the surrounding code parsing as it did:
 * - inserted statements go where a statement list already is, or are wrapped in
 *   a block where a single statement stood;
 * - nothing inserted ever starts an expression statement with `(`, `[`, `` ` ``,
 *   `+`, `-` or `/`, so automatic semicolon insertion sees the same tokens;
 * - `await` and `yield` keep their place and only their operand is wrapped, so
 *   error messages that print the awaited expression (V8: "(intermediate value)
 *   is not iterable") read as they would raw, and no internal name can show.
 */
const ENTER = `if(++${DEPTH}>${MAX_DEPTH}||--${FUEL}<0)${TRIP}();`;
const TICK = `if(--${FUEL}<0)${TRIP}();`;
const LEAVE = `}finally{${DEPTH}--}`;
const SUSPENDABLE_ENTER = `let ${SUSPENDED}=0,${TEMP};${ENTER}`;
// A frame suspended (or resumed normally) is not counted: see SUSPEND.
const SUSPENDABLE_LEAVE = `}finally{if(${SUSPENDED})${SUSPENDED}=0;else ${DEPTH}--}`;
/*
 * Before an async function or generator suspends, it gives its depth back, so
 * pending async work is not depth. After it resumes it runs at the bottom of a
 * fresh stack (or, for a generator, on top of its caller's), and it stays
 * uncounted until a catch or finally counts it again (RESUME) or it returns:
 * counting it again right after the `await` would mean wrapping the `await`
 * expression itself, which changes what the engine prints for it.
 */
const SUSPEND = `${SUSPENDED}||(${SUSPENDED}=1,${DEPTH}--)`;
const RESUME = `if(${SUSPENDED}){${SUSPENDED}=0;${DEPTH}++}`;

const LOOP_TYPES = ["ForStatement", "ForInStatement", "ForOfStatement", "WhileStatement", "DoWhileStatement"];

/**
 * True when the engine inserts a semicolon right after an argument-less
 * `yield` ending at `end`: a line break comes before the next token, and that
 * token could start the operand (ECMAScript's restricted productions).
 */
function semicolonInsertedAfter(source: string, end: number): boolean {
  let i = end;
  let lineBreak = false;
  while (i < source.length) {
    const c = source[i]!;
    if (c === "\n" || c === "\r" || c === "\u2028" || c === "\u2029") {
      lineBreak = true;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (source.startsWith("//", i)) {
      while (i < source.length && !/[\n\r\u2028\u2029]/.test(source[i]!)) i++;
    } else if (source.startsWith("/*", i)) {
      const close = source.indexOf("*/", i + 2);
      const stop = close < 0 ? source.length : close + 2;
      if (/[\n\r\u2028\u2029]/.test(source.slice(i, stop))) lineBreak = true;
      i = stop;
    } else {
      break;
    }
  }
  if (!lineBreak || i >= source.length) return false;
  if (/^(?:in|instanceof)(?![\p{ID_Continue}$\u200c\u200d])/u.test(source.slice(i, i + 11))) return false;
  return /[\p{ID_Start}$_\\0-9"'`([{+\-!~/.#]/u.test(source[i]!);
}

/**
 * The function declarations of a body that must stay at the function's own
 * level when the body is wrapped in a block: those whose name is also a
 * parameter, a `var` of the function, or another declaration (a block makes
 * each of these a redeclaration error, or stops a sloppy parameter from
 * taking the function's value). Others stay in place, keeping their lines.
 */
function declarationsToHoist(fn: FunctionNode, statements: AnyNode[]): Set<AnyNode> {
  const declarations = statements.filter((statement) => statement.type === "FunctionDeclaration");
  if (declarations.length === 0) return new Set();
  const names = (node: AnyNode) => String((node["id"] as AnyNode)["name"]);
  const taken = new Map<string, number>();
  for (const declaration of declarations) taken.set(names(declaration), (taken.get(names(declaration)) ?? 0) + 1);
  const clashes = new Set([...taken].filter(([, count]) => count > 1).map(([name]) => name));
  const bound: AnyNode[] = [];
  for (const param of fn["params"] as AnyNode[]) boundNames(param, bound);
  collectVarNames(fn.body, bound);
  for (const identifier of bound) {
    const name = String(identifier["name"]);
    if (taken.has(name)) clashes.add(name);
  }
  return new Set(declarations.filter((declaration) => clashes.has(names(declaration))));
}

/** Names declared with `var` anywhere in a function body, not looking into nested functions. */
function collectVarNames(node: AnyNode, out: AnyNode[]): void {
  if (node.type === "VariableDeclaration" && node["kind"] === "var") {
    for (const declarator of node["declarations"] as AnyNode[]) boundNames(declarator["id"] as AnyNode, out);
  }
  for (const child of childNodes(node)) {
    if (!FUNCTION_TYPES.has(child.type) && child.type !== "ClassBody") collectVarNames(child, out);
  }
}

/** True when a node contains a `yield` of its own function (not of a nested one). */
function containsYield(node: AnyNode): boolean {
  if (node.type === "YieldExpression") return true;
  if (FUNCTION_TYPES.has(node.type)) return false;
  return childNodes(node).some(containsYield);
}

function nearestFunction(ancestors: AnyNode[]): FunctionNode | undefined {
  for (let i = ancestors.length - 2; i >= 0; i--) {
    const node = ancestors[i]!;
    if (FUNCTION_TYPES.has(node.type)) return node as FunctionNode;
  }
  return undefined;
}

function isSuspendable(fn: FunctionNode | undefined): boolean {
  return fn !== undefined && (fn.async || fn.generator);
}

function unparenthesised(node: AnyNode): AnyNode {
  let inner = node;
  while (inner.type === "ParenthesizedExpression") inner = inner["expression"] as AnyNode;
  return inner;
}

/** Records the original ranges replaced by `update`, for {@link ReverseMap}. */
class Edits {
  readonly s: MagicString;
  readonly replaced = new Map<number, number>();
  constructor(source: string) {
    this.s = new MagicString(source);
  }
  update(start: number, end: number, text: string): void {
    this.s.update(start, end, text);
    this.replaced.set(start, end);
  }
}

/**
 * Instruments a parsed tree so that, on any engine, every function call and
 * loop iteration spends one unit of fuel, every call is counted against the
 * depth limit, guest `catch`/`finally` blocks cannot swallow or outlive a limit
 * error, and code generation from strings goes through the sandbox (so the
 * code it makes is instrumented too). With `counted` false (neither the
 * instruction budget nor the depth limit is on) calls, loops and suspensions
 * are not counted at all: only the guards the other limits need remain.
 * `script`: `ast` runs in the global scope (a script, or an indirect eval's code).
 */
function instrumentTree(source: string, ast: AnyNode, edits: Edits, script: boolean, counted: boolean): void {
  const { s } = edits;
  let shadows: { start: number; end: number }[] | undefined;
  const isGlobalEval = (node: AnyNode) => {
    shadows ??= evalShadows(ast);
    return !shadows.some((scope) => scope.start <= node.start && node.end <= scope.end);
  };

  /*
   * Generators whose for-of (or for-await) assigns through a destructuring pattern containing
   * `yield` (`for ([x = yield] of it)`): QuickJS fails to compile those inside a try whose finally
   * has code ("inconsistent stack size"), so they get no try/finally: their frame is counted
   * against the depth limit at entry, then given back at once, as a suspended frame's is.
   */
  const flatFrames = new Set<AnyNode>();
  if (counted && /\byield\b/.test(source)) {
    ancestor(
      ast as never,
      {
        ForOfStatement(node: AnyNode, _state: unknown, ancestors: AnyNode[]) {
          const left = node["left"] as AnyNode;
          const frame = nearestFunction(ancestors);
          if (
            frame?.generator &&
            (left.type === "ArrayPattern" || left.type === "ObjectPattern") &&
            containsYield(left)
          ) {
            flatFrames.add(frame);
          }
        },
      } as never,
    );
  }

  type Visitor = (node: AnyNode, state: unknown, ancestors: AnyNode[]) => void;
  const guestVisitors: Record<string, Visitor> = {
    ImportExpression(node: AnyNode) {
      // `import(` -> `__wardenImport(`: the sandbox has no modules to load.
      edits.update(node.start, node.start + "import".length, DYNAMIC_IMPORT);
    },
    CallExpression(node: AnyNode) {
      const callee = unparenthesised(node["callee"] as AnyNode);
      const args = node["arguments"] as AnyNode[];
      if (node["optional"] || callee.type !== "Identifier" || callee["name"] !== "eval" || !isGlobalEval(callee)) {
        return;
      }
      // A direct eval stays a direct eval (the callee is still `eval`); its code is instrumented first.
      const first = args[0];
      if (!first) return;
      if (args.some((arg) => arg.type === "SpreadElement")) {
        // V8 makes `eval(...a)` (one spread alone) an indirect eval and any other spread call a
        // direct one: keep the shape, so each engine decides as it would raw.
        const alone = args.length === 1;
        s.appendLeft(first.start, `...${DIRECT_EVAL_ARGS}([`);
        s.appendLeft(args.at(-1)!.end, alone ? "])" : "]),void 0");
      } else {
        s.appendLeft(first.start, `${DIRECT_EVAL}(`);
        s.appendLeft(first.end, ")");
      }
    },
    Identifier(node: AnyNode, _state: unknown, ancestors: AnyNode[]) {
      if (node["name"] !== "eval") return;
      // Children are visited first: is this the callee of a direct eval (see CallExpression)?
      let i = ancestors.length - 2;
      while (i >= 0 && ancestors[i]!.type === "ParenthesizedExpression") i--;
      const call = ancestors[i];
      if (call?.type === "CallExpression" && !call["optional"] && unparenthesised(call["callee"] as AnyNode) === node) {
        return;
      }
      const parent = ancestors.at(-2);
      // A sloppy write (`eval++`) changes the binding, as it would raw; it cannot read the engine's eval.
      if (parent?.type === "UpdateExpression" || !isGlobalEval(node)) return;
      // Any other use of the global `eval` reads the binding (a with-object's own `eval`, or what a
      // sloppy script assigned to it) and gets the sandbox's indirect eval for the engine's own.
      // A call as the callee of `new` would take the `new` itself: parenthesise it there.
      const read = `${READ_EVAL}(()=>eval)`;
      const replacement = parent?.type === "NewExpression" && parent["callee"] === node ? `(${read})` : read;
      const shorthand = parent?.type === "Property" && parent["shorthand"] === true;
      edits.update(node.start, node.end, shorthand ? `eval:${replacement}` : replacement);
    },
    VariableDeclarator(node: AnyNode, _state: unknown, ancestors: AnyNode[]) {
      // A sloppy script's global `var eval` (or top-level `let eval`) would clash with the sandbox's
      // global `eval` binding: it declares nothing new (the global exists) and its initializer
      // assigns that binding.
      const id = node["id"] as AnyNode;
      const declaration = ancestors.at(-2);
      if (!script || id.type !== "Identifier" || id["name"] !== "eval") return;
      const kind = declaration?.["kind"];
      const global = kind === "var" || (kind === "let" && ancestors.at(-3)?.type === "Program");
      if (!global) return;
      if (
        nearestFunction(ancestors) ||
        ancestors.some((a) => a.type === "ForInStatement" || a.type === "ForOfStatement")
      ) {
        return;
      }
      const init = node["init"] as AnyNode | null;
      if (init) {
        s.prependRight(id.start, "[]=[");
        s.appendLeft(init.end, "]");
      } else {
        edits.update(id.start, id.end, "[]=[]");
      }
    },
    AwaitExpression(node: AnyNode, _state: unknown, ancestors: AnyNode[]) {
      if (!counted || !isSuspendable(nearestFunction(ancestors))) return; // top-level await in a module
      const argument = node["argument"] as AnyNode;
      s.appendLeft(argument.start, `(${TEMP}=`);
      s.appendLeft(argument.end, `,${SUSPEND},${TEMP})`);
    },
    YieldExpression(node: AnyNode) {
      if (!counted) return;
      const argument = node["argument"] as AnyNode | null;
      if (argument) {
        s.appendLeft(argument.start, `(${TEMP}=`);
        s.appendLeft(argument.end, `,${SUSPEND},${TEMP})`);
        return;
      }
      // `yield` alone yields undefined; where a line break ended it (a restricted production),
      // the semicolon the engine would insert is written out, so the operand cannot join the next line.
      const ended = semicolonInsertedAfter(source, node.end);
      s.appendLeft(node.end, ` (${SUSPEND},void 0)${ended ? ";" : ""}`);
    },
    ForOfStatement(node: AnyNode, _state: unknown, ancestors: AnyNode[]) {
      if (!counted || !node["await"] || !isSuspendable(nearestFunction(ancestors))) return;
      // `for await` suspends at every step: the frame gives its depth back before the loop.
      let statement = node;
      for (let i = ancestors.length - 2; i >= 0 && ancestors[i]!.type === "LabeledStatement"; i--) {
        statement = ancestors[i]!;
      }
      s.prependRight(statement.start, `{${SUSPEND};`);
      s.appendLeft(statement.end, "}");
    },
    CatchClause(node: AnyNode, _state: unknown, ancestors: AnyNode[]) {
      const body = node["body"] as AnyNode;
      const param = node["param"] as AnyNode | null;
      const frame = nearestFunction(ancestors);
      const resume = counted && isSuspendable(frame) && !flatFrames.has(frame!) ? RESUME : "";
      if (!param) {
        s.appendLeft(body.start, `(${CATCH_PARAM})`);
        s.appendLeft(body.start + 1, `${resume}${CATCH}(${CATCH_PARAM});`);
      } else if (param.type === "Identifier") {
        s.appendLeft(body.start + 1, `${resume}${CATCH}(${String(param["name"])});`);
      } else {
        // A destructuring parameter keeps its own scope: the caught value is checked first,
        // then thrown again to the guest's own clause, unchanged.
        s.prependRight(
          param.start,
          `${CATCH_PARAM}){${resume}${CATCH}(${CATCH_PARAM});try{throw ${CATCH_PARAM}}catch(`,
        );
        s.appendLeft(body.end, "}");
      }
    },
    WithStatement(node: AnyNode) {
      // Inside `with`, every identifier is looked up on the object first: the instrumentation's
      // own names must never resolve there (a guest object could answer for them).
      const object = node["object"] as AnyNode;
      s.appendLeft(object.start, `${WITH_SCOPE}((`);
      s.appendLeft(object.end, "))");
    },
    TryStatement(node: AnyNode, _state: unknown, ancestors: AnyNode[]) {
      const finalizer = node["finalizer"] as AnyNode | null;
      if (!finalizer) return;
      const frame = nearestFunction(ancestors);
      const resume = counted && isSuspendable(frame) && !flatFrames.has(frame!) ? RESUME : "";
      s.appendLeft(finalizer.start + 1, `${resume}${FINALLY}();`);
    },
  };
  ancestor(ast as never, guestVisitors as never);
  if (!counted) return;

  // Loops and functions in a second pass so their insertions wrap the ones above.
  ancestor(
    ast as never,
    {
      Function(node: AnyNode) {
        const fn = node as FunctionNode;
        const enter = fn.async || fn.generator ? SUSPENDABLE_ENTER : ENTER;
        const leave = fn.async || fn.generator ? SUSPENDABLE_LEAVE : LEAVE;
        const body = fn.body;
        if (fn.expression) {
          s.appendLeft(body.start, `{${enter}try{return `);
          s.appendLeft(body.end, `${leave}}`);
          return;
        }
        const statements = body["body"] as AnyNode[];
        let insertAt = body.start + 1;
        let separator = "";
        for (const statement of statements) {
          if (typeof statement["directive"] !== "string") break;
          insertAt = statement.end;
          // A directive ended by a line break rather than a semicolon: end it here.
          separator = source[statement.end - 1] === ";" ? "" : ";";
        }
        if (flatFrames.has(fn)) {
          // Counted at entry, then given back at once: no try/finally (see flatFrames).
          s.appendLeft(insertAt, `${separator}${enter}${SUSPEND};`);
          return;
        }
        s.appendLeft(insertAt, `${separator}${enter}`);
        // The body now runs inside a try block, where function declarations are block-scoped.
        // Where that would change their meaning, they move to the function's own level.
        const hoisted = declarationsToHoist(fn, statements);
        // Those already first stay; the others follow them, in their own order (the last of
        // two declarations of one name wins).
        let anchor = insertAt;
        let leading = true;
        for (const statement of statements) {
          if (statement.start < insertAt) continue;
          if (leading && hoisted.has(statement)) {
            anchor = statement.end;
            continue;
          }
          leading = false;
          if (hoisted.has(statement)) s.move(statement.start, statement.end, anchor);
        }
        const first = statements.find((statement) => statement.start >= insertAt && !hoisted.has(statement));
        // prependRight: after everything appended at the same place, inside the statement's own text.
        if (first) {
          s.prependRight(first.start, "try{");
          s.prependRight(body.end - 1, leave);
        } else {
          s.prependRight(body.end - 1, `try{${leave}`);
        }
      },
    } as never,
  );

  const tickLoop = (node: AnyNode) => {
    const body = node["body"] as AnyNode;
    if (body.type === "BlockStatement") {
      s.appendLeft(body.start + 1, TICK);
    } else {
      s.appendLeft(body.start, `{${TICK}`);
      s.appendLeft(body.end, "}");
    }
  };
  ancestor(ast as never, Object.fromEntries(LOOP_TYPES.map((type) => [type, tickLoop])) as never);
}

/**
 * Instruments a guest program (see {@link instrumentTree}). Scripts and
 * modules start by reading their per-run configuration; a script's last
 * expression statement hands its value straight to the prelude. `counted`:
 * see {@link instrumentTree}.
 */
export function instrument(source: string, filename: string, counted = true): Instrumented {
  const { ast, kind } = parseProgram(source);
  const edits = new Edits(source);
  const { s } = edits;
  instrumentTree(source, ast, edits, kind === "script", counted);

  const programBody = ast["body"] as AnyNode[];
  let bootAt = 0;
  for (const statement of programBody) {
    if (typeof statement["directive"] !== "string") break;
    bootAt = statement.end;
  }
  const last = programBody.at(-1);
  const finishesItself =
    kind === "script" && last?.type === "ExpressionStatement" && typeof last["directive"] !== "string";
  if (finishesItself) {
    const expression = last["expression"] as AnyNode;
    s.prependRight(expression.start, `${FINISH}((`);
    s.appendLeft(expression.end, "))");
  }
  const hashbang = source.startsWith("#!") ? source.indexOf("\n") + 1 : 0;
  // A declaration, whose completion is empty: a script made of directives keeps their value.
  s.appendLeft(Math.max(bootAt, hashbang), `${bootAt > 0 ? ";" : ""}const ${BOOTED}=${BOOT}();`);

  const code = s.toString();
  const map = s.generateMap({ source: filename, includeContent: false, hires: true });
  return { code, map, kind, finishesItself, reverse: new ReverseMap(source, code, map, edits.replaced) };
}

/** Code made from a string at run time, instrumented. */
export interface InstrumentedEval {
  readonly code: string;
  readonly reverse: ReverseMap;
}

/**
 * Instruments code handed to `eval` (direct or indirect). Nothing is added
 * at its top level, so its completion value (what `eval` returns) and its
 * declarations are the guest's own. `ast` is the source's tree when the
 * caller has parsed it already; `counted` as for {@link instrument}.
 * `global`: the code runs in the global scope (an indirect eval), so a `var
 * eval` in it declares the global `eval`, as a script's does.
 */
export function instrumentEval(
  source: string,
  ast: AnyNode = parseEvalCode(source),
  counted = true,
  global = false,
): InstrumentedEval {
  const edits = new Edits(source);
  instrumentTree(source, ast, edits, global, counted);
  const code = edits.s.toString();
  const map = edits.s.generateMap({ hires: true, includeContent: false });
  return { code, reverse: new ReverseMap(source, code, map, edits.replaced) };
}
