// handlebars: compiles (to functions) and renders the templates and views of
// the Mustache README, with helpers and partials.
import Handlebars from "handlebars";
import readme from "corpus-files:mustache/README.md";
import { attempt, codeBlocks } from "./lib.js";

export default function main() {
  const hb = Handlebars.create();
  hb.registerHelper("upper", (text) => String(text).toUpperCase());
  hb.registerHelper("list", function (items, options) {
    return (items ?? []).map((item) => options.fn(item)).join(", ");
  });
  hb.registerPartial("user", "<strong>{{name}}</strong>");
  const templates = codeBlocks(readme[0].text, ["html", "handlebars"]);
  const views = codeBlocks(readme[0].text, ["json"]).flatMap((text) => {
    try {
      return [JSON.parse(text)];
    } catch {
      return [];
    }
  });
  const results = [];
  for (const template of templates) {
    const render = attempt(() => hb.compile(template));
    results.push({
      compiled: "ok" in render,
      outputs: views.map((view) => attempt(() => hb.compile(template)(view))),
    });
  }
  results.push(
    attempt(() =>
      hb.compile("{{upper name}} {{#list items}}{{> user}}{{/list}}")({ name: "x", items: [{ name: "a" }] }),
    ),
  );
  return results;
}
