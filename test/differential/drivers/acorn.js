// acorn and acorn-walk: parse, walk and tokenize real ES module sources
// (marked, diff, uuid), and the syntax errors of cut-off copies.
import * as acorn from "acorn";
import * as walk from "acorn-walk";
import sources from "corpus-files:diff/libesm/diff/base.js,diff/libesm/patch/parse.js,uuid/dist/v1.js,uuid/dist/v35.js";
import { attempt, histogram } from "./lib.js";

export default function main() {
  const results = {};
  for (const file of sources) {
    const comments = [];
    const ast = acorn.parse(file.text, {
      ecmaVersion: "latest",
      sourceType: "module",
      locations: true,
      onComment: comments,
    });
    const identifiers = [];
    const functions = [];
    walk.full(ast, (node) => {
      if (node.type === "Identifier") identifiers.push(node.name);
    });
    walk.ancestor(ast, {
      Function(node, ancestors) {
        functions.push(`${node.id?.name ?? "anonymous"}@${ancestors.length}:${node.loc.start.line}`);
      },
    });
    const tokens = [...acorn.tokenizer(file.text, { ecmaVersion: "latest", sourceType: "module" })];
    const found = walk.findNodeAt(ast, null, null, (type) => type === "ClassDeclaration");
    results[file.path] = {
      types: histogram(
        (function* all() {
          const stack = [ast];
          while (stack.length) {
            const node = stack.pop();
            yield node.type;
            for (const value of Object.values(node)) {
              if (Array.isArray(value)) stack.push(...value.filter((v) => v && typeof v.type === "string"));
              else if (value && typeof value.type === "string") stack.push(value);
            }
          }
        })(),
        (t) => t,
      ),
      identifiers: identifiers.length,
      distinct: new Set(identifiers).size,
      functions: functions.slice(0, 20),
      comments: comments.length,
      tokens: histogram(tokens, (t) => t.type.label),
      firstClass: found?.node.id?.name ?? null,
      cut: attempt(() =>
        acorn.parse(file.text.slice(0, Math.floor(file.text.length * 0.6)), {
          ecmaVersion: "latest",
          sourceType: "module",
        }),
      ),
      loose: attempt(() => acorn.parse(file.text, { ecmaVersion: 5, sourceType: "script" }).body.length),
    };
  }
  return results;
}
