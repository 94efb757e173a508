// diff (jsdiff): line, word and JSON diffs, unified patches and their
// application, between real documents and between versions of them.
import {
  applyPatch,
  createTwoFilesPatch,
  diffArrays,
  diffChars,
  diffJson,
  diffLines,
  diffSentences,
  diffWords,
  parsePatch,
  reversePatch,
  structuredPatch,
  convertChangesToXML,
} from "diff";
import docs from "corpus-files:diff/README.md,yaml/README.md,marked/README.md?max=3000";
import manifests from "corpus-files:diff/package.json,yaml/package.json,marked/package.json";
import { attempt, digest } from "./lib.js";

/** A deterministic edit of a document: some lines dropped, changed and moved. */
function edit(text) {
  const lines = text.split("\n");
  const out = [];
  for (const [i, line] of lines.entries()) {
    if (i % 17 === 3) continue;
    if (i % 11 === 5) out.push(line.replace(/\b(\w)(\w*)/g, (_, a, b) => a.toUpperCase() + b));
    else out.push(line);
    if (i % 23 === 7) out.push(`inserted line ${i}`);
  }
  return out.join("\n");
}

export default function main() {
  const results = { docs: {}, json: [] };
  for (const doc of docs) {
    const changed = edit(doc.text);
    const patch = createTwoFilesPatch(`a/${doc.path}`, `b/${doc.path}`, doc.text, changed, "old", "new", {
      context: 2,
    });
    const parsed = parsePatch(patch);
    results.docs[doc.path] = {
      lines: diffLines(doc.text, changed).map((c) => [c.added ? "+" : c.removed ? "-" : "=", c.count]),
      words: digest(diffWords(doc.text.slice(0, 3000), changed.slice(0, 3000)).map((c) => c.value)),
      chars: diffChars(doc.text.slice(0, 400), changed.slice(0, 400)).length,
      sentences: diffSentences(doc.text.slice(0, 2000), changed.slice(0, 2000)).length,
      patch: digest(patch),
      hunks: parsed[0].hunks.map((h) => [h.oldStart, h.oldLines, h.newStart, h.newLines]),
      applied: applyPatch(doc.text, patch) === changed,
      reversed: applyPatch(changed, reversePatch(parsed[0])) === doc.text,
      fuzz: attempt(() => applyPatch(doc.text.replace(/e/g, "E"), patch, { fuzzFactor: 2 })),
      structured: structuredPatch("a", "b", doc.text, changed).hunks.length,
      xml: digest(convertChangesToXML(diffWords(doc.text.slice(0, 500), changed.slice(0, 500)))),
    };
  }
  const objects = manifests.map((m) => JSON.parse(m.text));
  for (let i = 1; i < objects.length; i++) {
    results.json.push(digest(diffJson(objects[i - 1], objects[i]).map((c) => [c.added, c.removed, c.count])));
  }
  results.arrays = diffArrays(Object.keys(objects[0]), Object.keys(objects[1])).map((c) => c.value);
  results.bad = attempt(() => applyPatch("x", "not a patch\n@@ -1,3 +1,3 @@\n-a"));
  return results;
}
