// mustache.js: parses and renders the templates of its own README with its
// views, partials and custom tags.
import Mustache from "mustache";
import readme from "corpus-files:mustache/README.md";
import { attempt, codeBlocks } from "./lib.js";

export default function main() {
  const templates = codeBlocks(readme[0].text, ["html"]);
  const views = codeBlocks(readme[0].text, ["json"]).flatMap((text) => {
    try {
      return [JSON.parse(text)];
    } catch {
      return [];
    }
  });
  views.push({
    name: "Chris",
    items: [{ name: "a" }, { name: "b" }],
    calc: () => 2 + 4,
    bold: () => (text, render) => `<b>${render(text)}</b>`,
  });
  const partials = { user: "<strong>{{name}}</strong>", item: "{{#items}}<li>{{name}}</li>{{/items}}" };
  const results = { templates: templates.length, views: views.length, each: [] };
  for (const template of templates) {
    results.each.push({
      tokens: attempt(() =>
        Mustache.parse(template)
          .map((t) => t[0])
          .join(""),
      ),
      renders: views.map((view) => attempt(() => Mustache.render(template, view, partials))),
      tags: attempt(() =>
        Mustache.render(template.replace(/\{\{/g, "<%").replace(/\}\}/g, "%>"), views[0], {}, ["<%", "%>"]),
      ),
    });
  }
  results.unclosed = attempt(() => Mustache.render("{{#a}} open", {}));
  return results;
}
