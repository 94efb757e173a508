// yaml (eemeli/yaml): documents, streams, the CST lexer and parser (generators),
// and stringify options, on real manifests and workflow files.
import YAML, { Lexer, Parser, Composer, isMap, visit } from "yaml";
import manifests from "corpus-files:*/package.json?max=6000";
import workflows from "corpus-files:*/.github/workflows/*.yml,*/.github/*.yml,*/.travis.yml";
import { attempt, digest, histogram } from "./lib.js";

function* lines(text) {
  let start = 0;
  for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
    yield text.slice(start, end);
    start = end + 1;
  }
  if (start < text.length) yield text.slice(start);
}

export default async function main() {
  const results = { manifests: {}, workflows: {} };
  for (const file of manifests.slice(0, 15)) {
    let data;
    try {
      data = JSON.parse(file.text);
    } catch {
      continue;
    }
    const text = YAML.stringify(data, { indent: 2, lineWidth: 50, defaultStringType: "QUOTE_DOUBLE" });
    const doc = YAML.parseDocument(text);
    let scalars = 0;
    visit(doc, {
      Scalar() {
        scalars++;
      },
      Pair(_, pair) {
        if (pair.key && pair.key.value === "scripts") return visit.SKIP;
        return undefined;
      },
    });
    results.manifests[file.path] = {
      text: digest(text),
      scalars,
      same: JSON.stringify(doc.toJS()) === JSON.stringify(data),
      plain: attempt(() => YAML.stringify(data, { collectionStyle: "flow", simpleKeys: true })),
    };
  }
  for (const file of workflows.slice(0, 8)) {
    const tokens = [...new Lexer().lex(file.text)];
    const cst = [...new Parser().parse(file.text)];
    const docs = [...new Composer().compose(cst)];
    results.workflows[file.path] = {
      tokens: tokens.length,
      tokenKinds: histogram(tokens, (t) => YAML.CST.tokenType(t) ?? "?"),
      cst: histogram(cst, (t) => t.type),
      docs: docs.map((d) => ({ errors: d.errors.map((e) => e.code), map: isMap(d.contents) })),
      js: attempt(() => YAML.parse(file.text)),
      lineCount: [...lines(file.text)].length,
      pretty: attempt(() => YAML.parseDocument(file.text).toString({ indent: 4, indentSeq: false })),
      all: attempt(() => YAML.parseAllDocuments(`${file.text}\n---\n${file.text}`).map((d) => d.toJS())),
      broken: attempt(() => YAML.parse(file.text.replace(/:\s/, ": [unclosed "), { prettyErrors: true })),
    };
  }
  results.custom = attempt(() =>
    YAML.parse("a: !!binary aGVsbG8=\nb: 2001-12-14t21:59:43.10-05:00\nc: !!set {x, y}\nd: 0o17\ne: .inf\nf: ~\n", {
      version: "1.1",
    }),
  );
  return results;
}
