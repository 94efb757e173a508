// handlebars: parses and precompiles (to JavaScript source, no evaluation) the
// templates of the Mustache README, and the same with its options.
import Handlebars from "handlebars";
import readme from "corpus-files:mustache/README.md";
import { attempt, codeBlocks, histogram } from "./lib.js";

function walk(node, visit) {
  if (!node || typeof node !== "object") return;
  if (typeof node.type === "string") visit(node);
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) for (const item of value) walk(item, visit);
    else if (value && typeof value === "object" && value !== node.loc) walk(value, visit);
  }
}

export default function main() {
  const templates = codeBlocks(readme[0].text, ["html", "handlebars"]);
  const results = { templates: templates.length, each: [] };
  for (const template of templates) {
    const types = [];
    results.each.push({
      ast: attempt(() => {
        walk(Handlebars.parse(template), (node) => types.push(node.type));
        return histogram(types, (t) => t);
      }),
      precompiled: attempt(() => Handlebars.precompile(template)),
      strict: attempt(() => Handlebars.precompile(template, { strict: true, knownHelpersOnly: false })),
      noEscape: attempt(() => Handlebars.precompile(template, { noEscape: true, data: false })),
    });
  }
  results.error = attempt(() => Handlebars.parse("{{#each items}}{{/with}}"));
  return results;
}
