// js-yaml: YAML round trips of real package manifests and workflow files, and
// the errors it reports for broken documents.
import * as yaml from "js-yaml";
import manifests from "corpus-files:*/package.json?max=6000";
import workflows from "corpus-files:*/.github/workflows/*.yml,*/.github/*.yml,*/.travis.yml";
import { attempt, digest } from "./lib.js";

export default function main() {
  const results = { manifests: {}, workflows: {}, broken: {} };
  for (const file of manifests.slice(0, 25)) {
    let data;
    try {
      data = JSON.parse(file.text);
    } catch {
      continue; // cut by max
    }
    const dumped = attempt(() => yaml.dump(data, { sortKeys: true, lineWidth: 60 }));
    const flow = attempt(() => yaml.dump(data, { flowLevel: 1, quotingType: '"', noRefs: true }));
    const back = attempt(() => JSON.stringify(yaml.load(yaml.dump(data))) === JSON.stringify(data));
    results.manifests[file.path] = { dumped, flow, back };
  }
  for (const file of workflows.slice(0, 8)) {
    const docs = [];
    results.workflows[file.path] = {
      load: attempt(() => yaml.load(file.text)),
      all: attempt(() => {
        yaml.loadAll(file.text, (doc) => docs.push(doc));
        return docs.length;
      }),
      json: attempt(() => yaml.load(file.text, { json: true, schema: yaml.JSON_SCHEMA })),
      again: attempt(() => yaml.dump(yaml.load(file.text), { indent: 4 })),
    };
    const lines = file.text.split("\n");
    const middle = Math.floor(lines.length / 2);
    const breakages = {
      tab: [...lines.slice(0, middle), "\tbad: tab", ...lines.slice(middle)].join("\n"),
      quote: file.text.replace(/:\s/, ': "unterminated '),
      indent: lines.map((line, i) => (i === middle ? ` ${line}` : line)).join("\n"),
      duplicate: `${file.text}\n${lines.find((line) => /^\w/.test(line)) ?? "a: 1"}\n`,
    };
    for (const [kind, text] of Object.entries(breakages)) {
      results.broken[`${file.path}:${kind}`] = attempt(() => digest(yaml.load(text)));
    }
  }
  results.types = attempt(() =>
    yaml.load("a: !!binary aGVsbG8=\nb: 2001-12-14t21:59:43.10-05:00\nc: !!set {x, y}\nd: 0o17\ne: .inf\nf: ~\n"),
  );
  return results;
}
