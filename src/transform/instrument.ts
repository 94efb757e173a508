import { parse, type Node, type Options } from "acorn";
import { ancestor } from "acorn-walk";
import MagicString, { type SourceMap } from "magic-string";
import {
  BOOT,
  CATCH,
  CATCH_PARAM,
  DEPTH,
  DYNAMIC_IMPORT,
  FINALLY,
  FINISH,
  FUEL,
  MAX_DEPTH,
  RESERVED_PREFIX,
  SUSPENDED,
  TEMP,
  TRIP,
} from "./names.js";

/** Whether a source is a classic script or an ES module. */
export type SourceKind = "script" | "module";

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
}

/** A syntax error in guest source, with a 1-based line and 0-based column in the instrumenter's input. */
export class GuestSyntaxError extends Error {
  readonly line: number;
  readonly column: number;
  constructor(message: string, line: number, column: number) {
    super(message);
    this.name = "SyntaxError";
    this.line = line;
    this.column = column;
  }
}

type AnyNode = Node & Record<string, unknown> & { start: number; end: number };
type FunctionNode = AnyNode & { async: boolean; generator: boolean; expression?: boolean; body: AnyNode };

const ENTER = `if(++${DEPTH}>${MAX_DEPTH}||--${FUEL}<0)${TRIP}();`;
const TICK = `if(--${FUEL}<0)${TRIP}();`;
const LEAVE = `}finally{${DEPTH}--}`;
const SUSPENDABLE_ENTER = `let ${SUSPENDED}=0,${TEMP};${ENTER}`;
const SUSPENDABLE_LEAVE = `}finally{if(${SUSPENDED})${SUSPENDED}=0;else ${DEPTH}--}`;
// After an await/yield resumed by an exception, the frame runs again: count it.
const RESUME_FIX = `if(${SUSPENDED}){${SUSPENDED}=0;${DEPTH}++}`;

const FUNCTION_TYPES = new Set(["FunctionDeclaration", "FunctionExpression", "ArrowFunctionExpression"]);
const LOOP_TYPES = ["ForStatement", "ForInStatement", "ForOfStatement", "WhileStatement", "DoWhileStatement"];

const BASE_OPTIONS: Options = {
  ecmaVersion: "latest",
  locations: true,
  preserveParens: true,
  allowHashBang: true,
};

function parseAs(source: string, kind: SourceKind): AnyNode {
  return parse(source, {
    ...BASE_OPTIONS,
    sourceType: kind,
    // Every identifier-like token, whatever its role (variable, parameter, property, label).
    onToken(token) {
      if (token.type.label === "name" && String((token as { value?: unknown }).value).startsWith(RESERVED_PREFIX)) {
        throw Object.assign(
          new SyntaxError(`identifiers starting with ${RESERVED_PREFIX} are reserved by the sandbox`),
          {
            loc: token.loc?.start,
            reserved: true,
          },
        );
      }
    },
  }) as unknown as AnyNode;
}

/** Parses as a script, falling back to a module when the source uses module syntax. */
function parseGuest(source: string): { ast: AnyNode; kind: SourceKind } {
  try {
    return { ast: parseAs(source, "script"), kind: "script" };
  } catch (scriptError) {
    try {
      if ((scriptError as { reserved?: boolean }).reserved) throw scriptError;
      return { ast: parseAs(source, "module"), kind: "module" };
    } catch {
      const e = scriptError as SyntaxError & { loc?: { line: number; column: number } };
      throw new GuestSyntaxError(e.message.replace(/ \(\d+:\d+\)$/, ""), e.loc?.line ?? 1, e.loc?.column ?? 0);
    }
  }
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

/**
 * Instruments guest JavaScript so that, on any engine, every function call and
 * loop iteration spends one unit of fuel, every call is counted against the
 * depth limit, and guest `catch`/`finally` blocks cannot swallow or outlive a
 * limit error. Async functions and generators give their depth back while
 * suspended at `await`/`yield`, so pending async work does not count as depth.
 */
export function instrument(source: string, filename: string): Instrumented {
  const { ast, kind } = parseGuest(source);
  const s = new MagicString(source);

  type Visitor = (node: AnyNode, state: unknown, ancestors: AnyNode[]) => void;
  const guestVisitors: Record<string, Visitor> = {
    ImportExpression(node: AnyNode) {
      // `import(` -> `__wardenImport(`: the sandbox has no modules to load.
      s.update(node.start, node.start + "import".length, DYNAMIC_IMPORT);
    },
    AwaitExpression(node: AnyNode, _state: unknown, ancestors: AnyNode[]) {
      if (!isSuspendable(nearestFunction(ancestors))) return; // top-level await in a module
      const argument = node["argument"] as AnyNode;
      s.update(node.start, argument.start, `(${TEMP}=`);
      s.appendLeft(node.end, `,${SUSPENDED}=1,${DEPTH}--,${TEMP}=await ${TEMP},${SUSPENDED}=0,${DEPTH}++,${TEMP})`);
    },
    YieldExpression(node: AnyNode) {
      const argument = node["argument"] as AnyNode | null;
      const keyword = node["delegate"] ? "yield*" : "yield";
      const resume = `${SUSPENDED}=0,++${DEPTH}>${MAX_DEPTH}&&${TRIP}(),${TEMP})`;
      if (argument) {
        s.update(node.start, argument.start, `(${TEMP}=`);
        s.appendLeft(node.end, `,${SUSPENDED}=1,${DEPTH}--,${TEMP}=${keyword} ${TEMP},${resume}`);
      } else {
        s.update(node.start, node.end, `(${SUSPENDED}=1,${DEPTH}--,${TEMP}=${keyword},${resume}`);
      }
    },
    CatchClause(node: AnyNode, _state: unknown, ancestors: AnyNode[]) {
      const body = node["body"] as AnyNode;
      const param = node["param"] as AnyNode | null;
      let prefix = isSuspendable(nearestFunction(ancestors)) ? RESUME_FIX : "";
      if (!param) {
        s.appendLeft(body.start, `(${CATCH_PARAM})`);
        prefix += `${CATCH}(${CATCH_PARAM});`;
      } else if (param.type === "Identifier") {
        prefix += `${CATCH}(${String(param["name"])});`;
      } else {
        const pattern = s.slice(param.start, param.end);
        s.update(param.start, param.end, CATCH_PARAM);
        prefix += `${CATCH}(${CATCH_PARAM});let ${pattern}=${CATCH_PARAM};`;
      }
      s.appendLeft(body.start + 1, prefix);
    },
    TryStatement(node: AnyNode, _state: unknown, ancestors: AnyNode[]) {
      const finalizer = node["finalizer"] as AnyNode | null;
      if (!finalizer) return;
      const fix = isSuspendable(nearestFunction(ancestors)) ? RESUME_FIX : "";
      s.appendLeft(finalizer.start + 1, `${fix}${FINALLY}();`);
    },
  };
  ancestor(ast as never, guestVisitors as never);

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
        for (const statement of statements) {
          if (typeof statement["directive"] !== "string") break;
          insertAt = statement.end;
        }
        s.appendLeft(insertAt, `${enter}try{`);
        s.appendLeft(body.end - 1, leave);
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

  // Scripts and modules start by reading their per-run configuration.
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
  s.appendLeft(Math.max(bootAt, hashbang), `${bootAt > 0 ? ";" : ""}${BOOT}();`);

  return {
    code: s.toString(),
    map: s.generateMap({ source: filename, includeContent: false, hires: true }),
    kind,
    finishesItself,
  };
}
