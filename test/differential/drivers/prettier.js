// prettier (standalone, with its Babel, ESTree and Markdown plugins): formats
// real sources and READMEs with several option sets; async all the way down.
import * as prettier from "prettier/standalone";
import * as babel from "prettier/plugins/babel";
import * as estree from "prettier/plugins/estree";
import * as markdown from "prettier/plugins/markdown";
import sources from "corpus-files:uuid/dist/v35.js";
import docs from "corpus-files:esprima/README.md";
import { attemptAsync, digest } from "./lib.js";

const plugins = [babel, estree, markdown];

export default async function main() {
  const results = { sources: {}, docs: {} };
  for (const file of sources) {
    results.sources[file.path] = {
      default: await attemptAsync(() => prettier.format(file.text, { parser: "babel", plugins })),
      semiFalse: await attemptAsync(() =>
        prettier.format(file.text, {
          parser: "babel",
          plugins,
          semi: false,
          singleQuote: true,
          printWidth: 60,
          tabWidth: 4,
        }),
      ),
      check: await attemptAsync(() => prettier.check(file.text, { parser: "babel", plugins })),
      cursor: await attemptAsync(async () => {
        const { cursorOffset, formatted } = await prettier.formatWithCursor(file.text, {
          parser: "babel",
          plugins,
          cursorOffset: 100,
        });
        return [cursorOffset, formatted.length];
      }),
    };
  }
  for (const doc of docs) {
    results.docs[doc.path] = {
      formatted: await attemptAsync(() =>
        prettier.format(doc.text, { parser: "markdown", plugins, proseWrap: "always", printWidth: 60 }),
      ),
    };
  }
  results.error = await attemptAsync(() => prettier.format("const = 1", { parser: "babel", plugins }));
  results.digest = digest(Object.keys(results.sources));
  return results;
}
