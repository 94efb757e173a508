import type { AnyNode } from "./parse.js";

/** Collects the identifiers a binding pattern declares (`a`, `{ b, c: [d] }`, `...e`, `f = 1`). */
export function boundNames(pattern: AnyNode | null | undefined, out: AnyNode[]): void {
  if (!pattern) return;
  switch (pattern.type) {
    case "Identifier":
      out.push(pattern);
      return;
    case "ObjectPattern":
      for (const property of pattern["properties"] as AnyNode[]) {
        boundNames((property.type === "RestElement" ? property["argument"] : property["value"]) as AnyNode, out);
      }
      return;
    case "ArrayPattern":
      for (const element of pattern["elements"] as (AnyNode | null)[]) boundNames(element, out);
      return;
    case "RestElement":
      boundNames(pattern["argument"] as AnyNode, out);
      return;
    case "AssignmentPattern":
      boundNames(pattern["left"] as AnyNode, out);
      return;
    case "ParenthesizedExpression":
      boundNames(pattern["expression"] as AnyNode, out);
      return;
  }
}
