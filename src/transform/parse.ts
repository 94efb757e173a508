import { Parser, type Node, type Options } from "acorn";
import { RESERVED_PREFIX } from "./names.js";

/** Whether a source is a classic script or an ES module. */
export type SourceKind = "script" | "module";

/** An acorn node with its fields reachable by name. */
export type AnyNode = Node & Record<string, unknown> & { start: number; end: number };

/** The node types that make a function, and with it a scope of its own. */
export const FUNCTION_TYPES: ReadonlySet<string> = new Set([
  "FunctionDeclaration",
  "FunctionExpression",
  "ArrowFunctionExpression",
]);

/** The direct child nodes of a node, in source order (for walks that must decide where to stop). */
export function childNodes(node: AnyNode): AnyNode[] {
  const children: AnyNode[] = [];
  for (const key of Object.keys(node)) {
    if (key === "loc") continue;
    const value = node[key];
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item && typeof (item as AnyNode).type === "string") children.push(item as AnyNode);
    }
  }
  return children;
}

/** A syntax error in guest source, with a 1-based line and 0-based column in the parser's input. */
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

const BASE_OPTIONS: Options = {
  ecmaVersion: "latest",
  locations: true,
  preserveParens: true,
  allowHashBang: true,
};

/**
 * Code given to `eval` may use what its caller's context allows (`super`,
 * `new.target`, private names of an enclosing class); the engine checks that
 * when it compiles the instrumented code, so the parser lets it through.
 */
const EvalParser = Parser.extend(
  (Base) =>
    class extends (Base as unknown as new (...args: unknown[]) => object) {
      get allowNewDotTarget(): boolean {
        return true;
      }
    } as unknown as typeof Parser,
);

const EVAL_OPTIONS: Options = {
  ...BASE_OPTIONS,
  sourceType: "script",
  // Code given to eval is a Script, which may start with a hashbang (`eval("#!\n1")` is 1); a
  // function constructor's code is parsed inside its wrapper, where none can start.
  allowSuperOutsideMethod: true,
  checkPrivateFields: false,
};

/** Refuses any identifier-like token with the sandbox's reserved prefix, whatever its role. */
function refuseReserved(token: { type: { label: string }; value?: unknown; loc?: { start: unknown } | null }): void {
  if (token.type.label === "name" && String(token.value).startsWith(RESERVED_PREFIX)) {
    throw Object.assign(new SyntaxError(`identifiers starting with ${RESERVED_PREFIX} are reserved by the sandbox`), {
      loc: token.loc?.start,
      reserved: true,
    });
  }
}

function toGuestError(error: unknown): GuestSyntaxError {
  const e = error as SyntaxError & { loc?: { line: number; column: number } };
  if (!(e instanceof SyntaxError)) throw error;
  return new GuestSyntaxError(e.message.replace(/ \(\d+:\d+\)$/, ""), e.loc?.line ?? 1, e.loc?.column ?? 0);
}

function parseAs(source: string, kind: SourceKind): AnyNode {
  return Parser.parse(source, {
    ...BASE_OPTIONS,
    sourceType: kind,
    onToken: refuseReserved as never,
  }) as unknown as AnyNode;
}

/** Parses a program as a script, falling back to a module when the source uses module syntax. */
export function parseProgram(source: string): { ast: AnyNode; kind: SourceKind } {
  try {
    return { ast: parseAs(source, "script"), kind: "script" };
  } catch (scriptError) {
    if ((scriptError as { reserved?: boolean }).reserved) throw toGuestError(scriptError);
    try {
      return { ast: parseAs(source, "module"), kind: "module" };
    } catch {
      throw toGuestError(scriptError);
    }
  }
}

/** Parses code handed to `eval` or built by a function constructor (always a script). */
export function parseEvalCode(source: string): AnyNode {
  try {
    return EvalParser.parse(source, { ...EVAL_OPTIONS, onToken: refuseReserved as never }) as unknown as AnyNode;
  } catch (error) {
    throw toGuestError(error);
  }
}
