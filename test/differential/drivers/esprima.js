// esprima: parses and tokenizes real ES5/ES2015 sources (mustache.js, qs and
// semver), with locations, ranges and comments.
import esprima from "esprima";
import sources from "corpus-files:qs/lib/stringify.js,semver/classes/comparator.js,semver/functions/satisfies.js";
import { attempt, digest, histogram } from "./lib.js";

function nodeTypes(ast) {
  const types = [];
  const visit = (node) => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== "object") return undefined;
    if (typeof node.type === "string") types.push(node.type);
    for (const key of Object.keys(node)) if (key !== "loc" && key !== "range") visit(node[key]);
    return undefined;
  };
  visit(ast);
  return histogram(types, (t) => t);
}

export default function main() {
  const results = {};
  for (const file of sources) {
    const delegated = [];
    const ast = attempt(() => {
      const tree = esprima.parseScript(file.text, { range: true, loc: true, comment: true, tolerant: true }, (node) =>
        delegated.push(node.type),
      );
      return { types: nodeTypes(tree), comments: tree.comments.length, json: digest(tree) };
    });
    results[file.path] = {
      ast,
      delegated: delegated.length,
      tokens: attempt(() => histogram(esprima.tokenize(file.text, { comment: true }), (t) => t.type)),
      module: attempt(() => esprima.parseModule(file.text).body.length),
      broken: attempt(() => esprima.parseScript(file.text.slice(0, Math.floor(file.text.length / 2)))),
    };
  }
  return results;
}
