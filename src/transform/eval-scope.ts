import { boundNames } from "./bindings.js";
import { FUNCTION_TYPES, childNodes, type AnyNode } from "./parse.js";

/** A source range in which a binding named `eval` shadows the global one. */
interface Shadow {
  start: number;
  end: number;
}

/**
 * Finds where local bindings named `eval` shadow the global `eval` (sloppy
 * code only: strict code cannot bind the name). Scopes are kept as narrow as
 * the language allows, so a reference this cannot prove local is treated as
 * global: rewriting a local `eval` reference changes nothing the sandbox
 * depends on, while leaving a global one alone would hand out the engine's
 * own `eval`, which runs code uninstrumented.
 */
export function evalShadows(ast: AnyNode): Shadow[] {
  const shadows: Shadow[] = [];
  const visit = (node: AnyNode, parents: AnyNode[]): void => {
    const names: AnyNode[] = [];
    const declare = (pattern: AnyNode | null | undefined, scope: { start: number; end: number } | undefined) => {
      names.length = 0;
      boundNames(pattern, names);
      if (scope && names.some((name) => name["name"] === "eval")) shadows.push({ start: scope.start, end: scope.end });
    };
    const parent = parents.at(-1);
    switch (node.type) {
      case "VariableDeclaration": {
        let scope: AnyNode | undefined;
        if (node["kind"] === "var") {
          // The nearest function's body (not its parameters, which are a scope of their own).
          const fn = [...parents].reverse().find((p) => FUNCTION_TYPES.has(p.type));
          scope = fn ? (fn["body"] as AnyNode) : parents[0];
        } else {
          scope = parent;
        }
        for (const declarator of node["declarations"] as AnyNode[]) declare(declarator["id"] as AnyNode, scope);
        break;
      }
      case "FunctionDeclaration":
        declare(node["id"] as AnyNode, parent);
        break;
      case "ClassDeclaration":
        declare(node["id"] as AnyNode, parent);
        break;
      case "ClassExpression":
        declare(node["id"] as AnyNode, node);
        break;
      case "CatchClause":
        declare(node["param"] as AnyNode, node);
        break;
      case "ImportSpecifier":
      case "ImportDefaultSpecifier":
      case "ImportNamespaceSpecifier":
        declare(node["local"] as AnyNode, parents[0]);
        break;
    }
    if (FUNCTION_TYPES.has(node.type)) {
      if (node.type !== "FunctionDeclaration") declare(node["id"] as AnyNode, node);
      for (const param of node["params"] as AnyNode[]) declare(param, node);
    }
    parents.push(node);
    for (const child of childNodes(node)) visit(child, parents);
    parents.pop();
  };
  visit(ast, []);
  return shadows;
}
