// qs: query strings from its own README, and stringify/parse round trips of
// real package manifests with its many options.
import qs from "qs";
import readme from "corpus-files:qs/README.md";
import manifests from "corpus-files:*/package.json?max=6000";
import { attempt, digest } from "./lib.js";

export default function main() {
  const literals = [...readme[0].text.matchAll(/qs\.parse\(\s*'((?:[^'\\]|\\.)*)'/g)].map((m) => m[1]);
  const results = { literals: literals.length, parsed: {}, manifests: {} };
  for (const literal of literals) {
    results.parsed[literal] = {
      plain: attempt(() => qs.parse(literal)),
      dots: attempt(() => qs.parse(literal, { allowDots: true, depth: 2, parameterLimit: 5 })),
      comma: attempt(() => qs.parse(literal, { comma: true, ignoreQueryPrefix: true, parseArrays: false })),
      strict: attempt(() => qs.parse(literal, { strictDepth: true, depth: 1, throwOnLimitExceeded: true })),
    };
  }
  for (const file of manifests.slice(0, 12)) {
    let data;
    try {
      data = JSON.parse(file.text);
    } catch {
      continue;
    }
    const text = qs.stringify(data);
    results.manifests[file.path] = {
      text: digest(text),
      back: JSON.stringify(qs.parse(text, { depth: 10, arrayLimit: 100 })) === JSON.stringify(data),
      brackets: digest(qs.stringify(data, { arrayFormat: "brackets", encodeValuesOnly: true })),
      dots: digest(qs.stringify(data, { allowDots: true, format: "RFC1738", sort: (a, b) => a.localeCompare(b) })),
      comma: digest(qs.stringify(data, { arrayFormat: "comma", skipNulls: true, addQueryPrefix: true })),
      filtered: attempt(() => qs.stringify(data, { filter: ["name", "version", "engines", "node"] })),
    };
  }
  return results;
}
