import { instrumentEval, type InstrumentedEval } from "./instrument.js";
import { GuestSyntaxError, parseEvalCode, type AnyNode } from "./parse.js";

/** The four function constructors: `Function`, `GeneratorFunction`, `AsyncFunction`, `AsyncGeneratorFunction`. */
export type DynamicFunctionKind = "normal" | "generator" | "async" | "asyncGenerator";

const PREFIXES: Record<DynamicFunctionKind, string> = {
  normal: "function",
  generator: "function*",
  async: "async function",
  asyncGenerator: "async function*",
};

/**
 * Builds and instruments the source of a function made by a function
 * constructor, as ECMAScript's CreateDynamicFunction spells it:
 * `function anonymous(<params>\n) {\n<body>\n}`. The result is a parenthesised
 * function expression to evaluate in the global scope. The parameters and the
 * body must each stand on their own: text that closes the parameter list or
 * the body early (`Function("){", "}")`) is a SyntaxError, as in the engine.
 */
export function instrumentFunction(
  kind: DynamicFunctionKind,
  params: string,
  body: string,
  counted = true,
): InstrumentedEval {
  const head = `${PREFIXES[kind]} anonymous(`;
  const source = `${head}${params}\n) {\n${body}\n}`;
  const wrapped = `(${source})`;
  const program = parseEvalCode(wrapped);
  const statements = program["body"] as AnyNode[];
  const statement = statements[0];
  const group = statement?.type === "ExpressionStatement" ? (statement["expression"] as AnyNode) : undefined;
  const fn = group?.type === "ParenthesizedExpression" ? (group["expression"] as AnyNode) : undefined;
  const bodyStart = 1 + head.length + params.length + "\n) ".length;
  if (
    statements.length !== 1 ||
    fn?.type !== "FunctionExpression" ||
    fn.start !== 1 ||
    fn.end !== wrapped.length - 1 ||
    (fn["body"] as AnyNode).start !== bodyStart
  ) {
    throw new GuestSyntaxError("Arg string terminates parameters early", 1, 0);
  }
  return instrumentEval(wrapped, program, counted);
}
